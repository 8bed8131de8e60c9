// The result model every report format is written from: one record per
// result line of a run (unit case on a memory type, stress run, wp-mremap
// folio), and a summary. Built by reading the KTAP stream (collect.ts), so
// every command gets it the same way.

export type ResultKind = "pass" | "fail" | "skip";

export interface CaseRecord {
  /** Its number in the KTAP stream. */
  readonly n: number;
  /** The KTAP name: `zeropage on shmem`, `stress anon 20 16`, `test_one_folio(...)`. */
  readonly name: string;
  /** Which program of the kernel's it belongs to: unit, stress, wp-mremap. */
  readonly part: "unit" | "stress" | "wp-mremap";
  /** Memory type (anon, shmem, shmem-private, hugetlb, hugetlb-private), or null for memory-less cases. */
  readonly memory: string | null;
  readonly result: ResultKind;
  /**
   * skip: why (names the missing feature or resource); fail: the directive
   * (`TIMEOUT 60 s`, `crashed: SIGSEGV`) or else the last diagnostic; pass: null.
   */
  readonly reason: string | null;
  /** Seconds from the previous result (or the plan) to this one. */
  readonly duration: number;
  /** The `# ` lines printed before the result, without the `# `. */
  readonly diagnostics: readonly string[];
}

export interface ReportSummary {
  /** Results the plan line announced (0 when none was seen). */
  readonly planned: number;
  readonly total: number;
  readonly pass: number;
  readonly fail: number;
  readonly skip: number;
  /** Seconds from the start of the run to its end (or its interruption). */
  readonly duration: number;
  /** The signal that interrupted the run, or null when it ran to its end. */
  readonly interrupted: string | null;
}

export interface RunReport {
  readonly tool: "uffd-suite";
  readonly version: string;
  /** The command that ran: unit, stress, wp-mremap, run. */
  readonly command: string;
  readonly kernel: { readonly release: string; readonly arch: string };
  readonly hostname: string;
  /** ISO 8601 start time. */
  readonly started: string;
  readonly cases: readonly CaseRecord[];
  readonly summary: ReportSummary;
}

const MEMORY = ["anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private"];

/** The program a result name belongs to. */
export function partOf(name: string): CaseRecord["part"] {
  if (/^stress \S+ \d+ \d+$/.test(name)) return "stress";
  if (name.startsWith("test_one_folio(")) return "wp-mremap";
  return "unit";
}

/** The memory type a result name names, or null. */
export function memoryOf(name: string): string | null {
  const on = / on (\S+)$/.exec(name);
  if (on && MEMORY.includes(on[1]!)) return on[1]!;
  const stress = /^stress (\S+) \d+ \d+$/.exec(name);
  if (stress && MEMORY.includes(stress[1]!)) return stress[1]!;
  // wp-mremap: a private anonymous mapping is anon, a shared one shmem.
  const folio = /^test_one_folio\(size=\d+, private=(true|false), swapout=(?:true|false), hugetlb=(true|false)\)$/.exec(name);
  if (folio) {
    const priv = folio[1] === "true";
    if (folio[2] === "true") return priv ? "hugetlb-private" : "hugetlb";
    return priv ? "anon" : "shmem";
  }
  return null;
}
