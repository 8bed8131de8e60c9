// Result lines of a KTAP/TAP stream, for tests that check verdicts: status,
// name, skip reason and the "# " diagnostic lines printed before each result.
import { type FinalResults, Parser } from "tap-parser";

export interface KtapResult {
  readonly n: number;
  readonly name: string;
  readonly status: "pass" | "fail" | "skip";
  readonly reason: string;
  readonly diagnostics: string[];
}

export function parseKtapResults(text: string): KtapResult[] {
  const out: KtapResult[] = [];
  let diags: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^(not )?ok (\d+) (.*?)(?: # (SKIP|TIMEOUT)\s*(.*))?$/.exec(line);
    if (m) {
      const status = m[1] ? "fail" : m[4] === "SKIP" ? "skip" : "pass";
      out.push({ n: Number(m[2]), name: m[3]!.trim(), status, reason: m[5] ?? "", diagnostics: diags });
      diags = [];
    } else if (line.startsWith("# ") && !line.startsWith("# Totals")) {
      diags.push(line.slice(2));
    }
  }
  return out;
}

/** What a result line says, read as a KTAP parser reads it; undefined for any other line. */
export function ktapLineStatus(line: string): "pass" | "fail" | "skip" | undefined {
  const m = /^(not ok|ok) \d+\b[^#]*(#\s*(\S+))?/.exec(line);
  if (!m) return undefined;
  if (m[1] === "not ok") return "fail";
  return m[3]?.toUpperCase() === "SKIP" ? "skip" : "pass";
}

/** Counts the result lines of KTAP text as written, to check a writer's own counts against. */
export class KtapTally {
  readonly counts = { pass: 0, fail: 0, skip: 0 };
  #partial = "";

  /** Feed text as written; a partial line waits for its end. */
  readonly feed = (text: string): void => {
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop()!;
    for (const line of lines) {
      const s = ktapLineStatus(line);
      if (s) this.counts[s]++;
    }
  };

  /** Result lines read so far. */
  get emitted(): number {
    return this.counts.pass + this.counts.fail + this.counts.skip;
  }
}

/** One KTAP result line: number, name, verdict and what follows the name's `# `. */
export function parseKtapResult(
  line: string,
): { n: number; name: string; result: "pass" | "fail" | "skip"; directive: string | null } | undefined {
  const m = /^(not ok|ok) (\d+) ([^#]*?)\s*(?:#\s*(.*))?$/.exec(line);
  if (!m) return undefined;
  const directive = m[4]?.trim() || null;
  const skip = m[1] === "ok" && directive !== null && /^skip\b/i.test(directive);
  return {
    n: Number(m[2]),
    name: m[3]!.trim(),
    result: m[1] === "not ok" ? "fail" : skip ? "skip" : "pass",
    directive: skip ? directive.replace(/^skip\b\s*/i, "") : directive,
  };
}

/** One assert as tap-parser reads it: skip is the reason, or false (true: a bare "# SKIP"). */
export interface TapAssert {
  readonly ok: boolean;
  readonly id: number;
  readonly name: string;
  readonly skip: string | boolean;
}

/** A strict TAP parser's (tap-parser) reading of `text`: each assert and the final summary. */
export function parseStrictTap(text: string): { asserts: TapAssert[]; result: FinalResults } {
  const asserts: TapAssert[] = [];
  let result: FinalResults | undefined;
  const p = new Parser({ strict: true }, (r: FinalResults) => (result = r));
  p.on("assert", (a: TapAssert) => asserts.push({ ok: a.ok, id: a.id, name: a.name, skip: a.skip }));
  p.end(text);
  if (result === undefined) throw new Error(`tap-parser gave no summary for:\n${text}`);
  return { asserts, result };
}
