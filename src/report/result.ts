// The one result stream of a run. Runners (unit, stress, wp-mremap, and `run`
// over all three) hand each result to a ResultSink as data; the KTAP writer,
// the JSON/JUnit collector and `run`'s section are sinks or wrap one. Text is
// made only at the end of the stream, and never read back.

/** What a result came to. */
export type Status = "pass" | "fail" | "skip";

/** The kernel program a result belongs to (explore is our own). */
export type Part = "unit" | "stress" | "wp-mremap" | "explore";

export interface Result {
  /** The KTAP name: `zeropage on shmem`, `stress anon 20 16`, `test_one_folio(...)`. */
  readonly name: string;
  readonly part: Part;
  /** Memory type (anon, shmem, shmem-private, hugetlb, hugetlb-private), or null for memory-less cases. */
  readonly memory: string | null;
  readonly status: Status;
  /**
   * skip: why (names the missing feature or resource); fail: the directive of
   * the result line, if any (`TIMEOUT 60 s`, `crashed: SIGSEGV`); pass: none.
   */
  readonly reason?: string;
  /** What was expected, what was seen: printed as `# ` lines before the result. */
  readonly diagnostics: readonly string[];
}

export interface ResultSink {
  /** How many results will follow. */
  plan(total: number): void;
  /** A line for the reader between results (without the `# `). */
  note(text: string): void;
  result(r: Result): void;
}

export interface Counts {
  pass: number;
  fail: number;
  skip: number;
}

/** The run's outcome: "fail" also when fewer results came than planned. */
export function outcomeOf(c: Counts, planned: number): "fail" | "nothing-ran" | "ok" {
  if (c.fail > 0 || c.pass + c.fail + c.skip < planned) return "fail";
  return c.pass === 0 ? "nothing-ran" : "ok";
}

/** A part of a bigger run: the plan is the whole run's, so the part's own is dropped. */
export function section(sink: ResultSink): ResultSink {
  return { plan: () => {}, note: (text) => sink.note(text), result: (r) => sink.result(r) };
}
