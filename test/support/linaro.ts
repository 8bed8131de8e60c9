// How Linaro's test-definitions turn a kselftest log into LAVA test cases,
// re-expressed here (read from automated/linux/kselftest/parse-output.py,
// the perl one-liner kselftest.sh used before it, automated/utils/
// send-to-lava.sh, and tappy's line grammar), so tests can run what our test
// definition emits through both paths without LAVA or Python.

export interface LinaroCase {
  readonly id: string;
  readonly result: string;
}

/** parse-output.py's slugify: `[n]` dropped, other characters to `_`, one `_` off each end, `_-` to `__`. */
export function linaroSlugify(s: string): string {
  return s
    .replace(/\[\d{1,5}\]/g, "")
    .replace(/[^A-Za-z0-9_-]+/g, "_")
    .replace(/^_|_$/g, "")
    .replace(/_-/g, "__");
}

interface TapLine {
  readonly kind: "test" | "diagnostic" | "other";
  readonly ok?: boolean;
  readonly description?: string;
  readonly directive?: string;
  readonly text: string;
}

/** tappy's classification of one line (trailing whitespace already gone). */
function tapLine(text: string): TapLine {
  const m = /^(not ok|ok)\s*\d*\s*([^#]*)#?\s*(.*)$/.exec(text);
  if (m) return { kind: "test", ok: m[1] === "ok", description: m[2]!.trim(), directive: m[3]!, text };
  if (text.startsWith("#")) return { kind: "diagnostic", text };
  return { kind: "other", text };
}

const isSkip = (directive: string) => /^SKIP/i.test(directive);

interface Nested {
  name: string;
  result: string;
  children: Nested[];
}

function parseNested(text: string): Nested[] {
  const results: Nested[] = [];
  let output = "";
  for (const raw of text.split("\n")) {
    const l = tapLine(raw.replace(/\s+$/, ""));
    if (l.kind === "test") {
      const skip = isSkip(l.directive!);
      let name = l.description!;
      if (name.startsWith("selftests:")) name = name.slice(10);
      // A skip's directive text after SKIP joins the name; other directives do not.
      const extra = l.ok && skip ? l.directive!.slice(4) : "";
      name = `${name} ${extra}`.trim() || "<unknown>";
      results.push({ name: linaroSlugify(name), result: l.ok ? (skip ? "skip" : "pass") : "fail", children: parseNested(output) });
      output = "";
    } else if (l.kind === "diagnostic") {
      output += `${l.text.slice(1).trim()}\n`;
    }
  }
  return results;
}

function flatten(prefix: string, results: readonly Nested[]): LinaroCase[] {
  return results.flatMap((r) => [...flatten(`${prefix}${r.name}_`, r.children), { id: `${prefix}${r.name}`, result: r.result }]);
}

/** parse-output.py over a log: nested results flattened parent_child, repeats made unique with _dupN. */
export function parseOutputPy(log: string): LinaroCase[] {
  const seen = new Map<string, number>();
  return flatten("", parseNested(log)).map((c) => {
    const n = (seen.get(c.id) ?? 0) + 1;
    seen.set(c.id, n);
    return n > 1 ? { ...c, id: `${c.id}_dup${n}` } : c;
  });
}

/** The perl one-liner of kselftest.sh before parse-output.py: "<dir>.<name> <result>" lines. */
export function oldKselftestLines(log: string): string[] {
  let testdir = "";
  const out: string[] = [];
  for (const line of log.split("\n")) {
    const dir = /^# selftests: (.*)$/.exec(line);
    if (dir) {
      testdir = dir[1]!.replace(/[:/]\s*/g, ".");
      continue;
    }
    const m = /^(?:# )*(not )?ok (?:\d+) ([^#]+)(# (SKIP)?)?/.exec(line);
    if (!m) continue;
    let test = m[2]!.replace(/\s+$/, "");
    const q = /selftests: (.*)/.exec(test);
    test = q ? q[1]!.replace(/[:/]\s*/g, ".") : `${testdir}.${test}`;
    out.push(`${test} ${m[4] === "SKIP" ? "skip" : m[1] === "not " ? "fail" : "pass"}`);
  }
  return out;
}

/** send-to-lava.sh over a result file: the id and result it hands lava-test-case for each line. */
export function sendToLava(resultFile: string): LinaroCase[] {
  const out: LinaroCase[] = [];
  for (const line of resultFile.split("\n")) {
    if (/.* +(pass|fail|skip|unknown)$/i.test(line)) {
      out.push({ id: line.split(" ")[0]!, result: line.slice(line.lastIndexOf(" ") + 1) });
    } else if (/.* (pass|fail|skip|unknown)+ .*/i.test(line)) {
      const f = line.trim().split(/\s+/);
      out.push({ id: f[0]!, result: f[1]! });
    }
  }
  return out;
}

/** LAVA's own rule for a test case id from a pattern: no whitespace. */
export const lavaAcceptsId = (id: string) => !/\s/.test(id) && id.length > 0;
