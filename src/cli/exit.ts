/** Exit codes, as kernel CI reads them: kselftest's KSFT_PASS 0, KSFT_FAIL 1 and KSFT_SKIP 4 (nothing ran), and 2 for bad usage. */
export const EXIT = {
  /** Nothing failed. */
  OK: 0,
  /** Something failed. */
  FAIL: 1,
  /** Bad usage. */
  USAGE: 2,
  /** Nothing ran: everything skipped, or no userfaultfd. */
  NOTHING_RAN: 4,
} as const;

/** The exit code of a run's outcome (report/result.ts outcomeOf, from the results reported). */
export function exitCodeOf(outcome: "fail" | "nothing-ran" | "ok"): number {
  return outcome === "fail" ? EXIT.FAIL : outcome === "nothing-ran" ? EXIT.NOTHING_RAN : EXIT.OK;
}
