// KTAP / TAP 13 output as kernel CI parses it (kunit.py parse, the Linaro
// test-definitions kselftest regex, TAP 13/14 parsers; LKFT drops a SKIP without a name):
//   TAP version 13
//   1..N
//   # diagnostics, before the result they explain
//   ok 1 name
//   ok 2 name # SKIP reason
//   not ok 3 name # crashed: SIGSEGV
//   # Totals: pass:P fail:F xfail:0 xpass:0 skip:S error:0
// Names never carry '#'; skip lines always carry the name (LKFT drops them otherwise).

import { type Counts, outcomeOf, type Result, type ResultSink, type Status } from "./result.ts";

/** A name or reason on one line, without the '#' that would end a TAP description. */
export function ktapText(s: string): string {
  return s
    .replace(/[\r\n]+/g, " ")
    .replace(/#/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

export function ktapResultLine(n: number, name: string, status: Status, directive?: string): string {
  const head = `${status === "fail" ? "not ok" : "ok"} ${n} ${ktapText(name)}`;
  if (status === "skip") return `${head} # SKIP ${ktapText(directive ?? "")}`.trimEnd();
  return directive ? `${head} # ${ktapText(directive)}` : head;
}

export function ktapDiagnostics(lines: readonly string[]): string[] {
  return lines.flatMap((l) => l.split("\n")).map((l) => `# ${l}`.trimEnd());
}

export function ktapTotals(c: Counts): string {
  return `# Totals: pass:${c.pass} fail:${c.fail} xfail:0 xpass:0 skip:${c.skip} error:0`;
}

/**
 * Streams a KTAP document from the result stream: header and plan, notes as
 * `# ` lines, each result numbered with its diagnostics before it, then the
 * totals. Totals and the exit code are counted from the results written
 * here, so they cannot disagree with the lines.
 */
export class KtapSink implements ResultSink {
  readonly #write: (text: string) => void;
  readonly #counts: Counts = { pass: 0, fail: 0, skip: 0 };
  planned = 0;

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Results written so far. */
  get counts(): Counts {
    return { ...this.#counts };
  }

  /** Result lines written so far. */
  get emitted(): number {
    return this.#counts.pass + this.#counts.fail + this.#counts.skip;
  }

  /** The outcome of what was written (see outcomeOf). */
  outcome(): "fail" | "nothing-ran" | "ok" {
    return outcomeOf(this.#counts, this.planned);
  }

  plan(total: number): void {
    this.planned = total;
    this.#write(`TAP version 13\n1..${total}\n`);
  }

  note(text: string): void {
    this.#diagnostics([text]);
  }

  result(r: Result): number {
    this.#diagnostics(r.diagnostics);
    this.#counts[r.status]++;
    const n = this.emitted;
    this.#write(`${ktapResultLine(n, r.name, r.status, r.reason)}\n`);
    return n;
  }

  totals(): void {
    this.#write(`${ktapTotals(this.#counts)}\n`);
  }

  #diagnostics(lines: readonly string[]): void {
    if (lines.length > 0) this.#write(`${ktapDiagnostics(lines).join("\n")}\n`);
  }
}
