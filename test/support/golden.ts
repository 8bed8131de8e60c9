// Output of the test commands reduced to what must not change between two
// builds: names, results, reasons and diagnostics, with what differs from
// run to run (timings, addresses, counts, the host) masked. Used by
// test/output-unchanged.test.ts and by test/golden/make.ts, which writes the
// golden files from a reference binary.
import { existsSync, readdirSync } from "node:fs";
import { arch, release } from "node:os";

/** The command lines compared, and the golden file stem of each. */
export const GOLDEN_COMMANDS: ReadonlyArray<{ readonly stem: string; readonly args: readonly string[] }> = [
  { stem: "unit-kernel", args: ["unit", "--origin", "kernel"] },
  { stem: "stress-anon-8-4", args: ["stress", "anon", "8", "4"] },
  { stem: "wp-mremap", args: ["wp-mremap"] },
];

/** The formats each command is compared in: file extension and the --format value. */
export const GOLDEN_FORMATS: ReadonlyArray<{ readonly ext: string; readonly format: string }> = [
  { ext: "ktap", format: "ktap" },
  { ext: "json", format: "json" },
  { ext: "xml", format: "junit" },
];

/**
 * Numbers and addresses in free text: counts, sizes, timings vary from run to
 * run. A stress bounce's fault counts also leave out a kind that saw none.
 */
export function maskNumbers(s: string): string {
  return s
    .replace(/userfaults .*$/, "userfaults …")
    .replace(/0x[0-9a-fA-F]+/g, "ADDR")
    .replace(/\d+(\.\d+)?/g, "#");
}

/** KTAP: header, plan, result lines (number, verdict, name kept; the directive masked), diagnostics and totals masked. */
export function normalizeKtap(text: string): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const result = /^((?:not )?ok \d+ [^#]*?)(\s*#.*)?$/.exec(line);
    if (result) out.push(`${result[1]}${maskNumbers(result[2] ?? "")}`);
    else if (/^(TAP version \d+|1\.\.\d+|# Totals: .*)$/.test(line)) out.push(line);
    else out.push(maskNumbers(line));
  }
  return out.join("\n");
}

/** JSON report: every field kept, the host, versions, times and free-text numbers masked. */
export function normalizeJson(text: string): string {
  const doc = JSON.parse(text);
  doc.version = "V";
  doc.kernel = { release: "R", arch: "A" };
  doc.hostname = "H";
  doc.started = "T";
  doc.summary.duration = "D";
  doc.cases = doc.cases.map((c: Record<string, unknown>) => ({
    ...c,
    duration: typeof c.duration === "number" ? "D" : c.duration,
    reason: typeof c.reason === "string" ? maskNumbers(c.reason) : c.reason,
    diagnostics: (c.diagnostics as string[]).map(maskNumbers),
  }));
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** JUnit XML: structure, names and counts kept; times, host, versions and free-text numbers masked. */
export function normalizeJunit(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      if (/^\s*<testsuites?[ >]/.test(line)) {
        return line
          .replace(/ time="[^"]*"/, ' time="D"')
          .replace(/ timestamp="[^"]*"/, ' timestamp="T"')
          .replace(/ hostname="[^"]*"/, ' hostname="H"');
      }
      const prop = /^(\s*<property name="(?:version|kernel|arch)" value=")[^"]*("\/>)$/.exec(line);
      if (prop) return `${prop[1]}X${prop[2]}`;
      if (/^\s*<testcase /.test(line)) return line.replace(/ time="[^"]*"/, ' time="D"');
      if (/^\s*<(property|\/|\?xml)/.test(line)) return line;
      return maskNumbers(line);
    })
    .join("\n");
}

export function normalize(ext: string, text: string): string {
  return ext === "ktap" ? normalizeKtap(text) : ext === "json" ? normalizeJson(text) : normalizeJunit(text);
}

function sizes(dir: string, re: RegExp): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((d) => re.exec(d)?.[1])
    .filter((x) => x !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** What the results depend on besides the code: the golden files hold for this machine only. */
export function machineKey(): Record<string, unknown> {
  return {
    release: release(),
    arch: arch(),
    root: process.getuid?.() === 0,
    thpKiB: sizes("/sys/kernel/mm/transparent_hugepage", /^hugepages-(\d+)kB$/),
    hugetlbKiB: sizes("/sys/kernel/mm/hugepages", /^hugepages-(\d+)kB$/),
    gupTest: existsSync("/sys/kernel/debug/gup_test"),
  };
}
