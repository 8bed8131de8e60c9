// The result model every report format is written from: one record per
// result of a run (unit case on a memory type, stress run, wp-mremap folio),
// and a summary. Kept by collect.ts from the result stream, so every command
// gets it the same way.
import type { Part, Status } from "./result.ts";

export interface CaseRecord {
  /** Its number in the run (as the KTAP stream numbers it). */
  readonly n: number;
  /** The KTAP name: `zeropage on shmem`, `stress anon 20 16`, `test_one_folio(...)`. */
  readonly name: string;
  /** Which program of the kernel's it belongs to: unit, stress, wp-mremap. */
  readonly part: Part;
  /** Memory type (anon, shmem, shmem-private, hugetlb, hugetlb-private), or null for memory-less cases. */
  readonly memory: string | null;
  readonly result: Status;
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
