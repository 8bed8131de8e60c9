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

export interface KtapCounts {
  pass: number;
  fail: number;
  skip: number;
}

export type KtapStatus = "pass" | "fail" | "skip";

/** A name or reason on one line, without the '#' that would end a TAP description. */
export function ktapText(s: string): string {
  return s.replace(/[\r\n]+/g, " ").replace(/#/g, "").replace(/\s+/g, " ").trim();
}

export function ktapResultLine(n: number, name: string, status: KtapStatus, directive?: string): string {
  const head = `${status === "fail" ? "not ok" : "ok"} ${n} ${ktapText(name)}`;
  if (status === "skip") return `${head} # SKIP ${ktapText(directive ?? "")}`.trimEnd();
  return directive ? `${head} # ${ktapText(directive)}` : head;
}

export function ktapDiagnostics(lines: readonly string[]): string[] {
  return lines.flatMap((l) => l.split("\n")).map((l) => `# ${l}`.trimEnd());
}

export function ktapTotals(c: KtapCounts): string {
  return `# Totals: pass:${c.pass} fail:${c.fail} xfail:0 xpass:0 skip:${c.skip} error:0`;
}

/** What a result line says, read back as a KTAP parser reads it; undefined for any other line. */
export function ktapLineStatus(line: string): KtapStatus | undefined {
  const m = /^(not ok|ok) \d+\b[^#]*(#\s*(\S+))?/.exec(line);
  if (!m) return undefined;
  if (m[1] === "not ok") return "fail";
  return m[3]?.toUpperCase() === "SKIP" ? "skip" : "pass";
}

/**
 * Counts the result lines of KTAP text as written: the totals line and the
 * exit code come from what was printed, not from a second account of it.
 */
export class KtapTally {
  readonly counts: KtapCounts = { pass: 0, fail: 0, skip: 0 };
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

/** The run's outcome from its printed results: "fail" also when fewer results came than planned. */
export function ktapOutcome(c: KtapCounts, planned: number): "fail" | "nothing-ran" | "ok" {
  if (c.fail > 0 || c.pass + c.fail + c.skip < planned) return "fail";
  return c.pass === 0 ? "nothing-ran" : "ok";
}

/** Streams a KTAP document: header, then results as they come, then totals (counted from the lines written). */
export class KtapWriter {
  readonly #tally = new KtapTally();
  readonly #write: (text: string) => void;
  #next = 1;
  planned = 0;

  constructor(write: (text: string) => void) {
    this.#write = (text) => {
      this.#tally.feed(text);
      write(text);
    };
  }

  /** Results as printed so far. */
  get counts(): KtapCounts {
    return { ...this.#tally.counts };
  }

  /** Result lines printed so far. */
  get emitted(): number {
    return this.#tally.emitted;
  }

  /** The outcome of what was printed (see ktapOutcome). */
  outcome(): "fail" | "nothing-ran" | "ok" {
    return ktapOutcome(this.#tally.counts, this.planned);
  }

  plan(total: number): void {
    this.planned = total;
    this.#write(`TAP version 13\n1..${total}\n`);
  }

  diagnostic(lines: readonly string[]): void {
    if (lines.length > 0) this.#write(`${ktapDiagnostics(lines).join("\n")}\n`);
  }

  result(name: string, r: { status: KtapStatus; reason?: string; directive?: string; diagnostics?: readonly string[] }): number {
    const n = this.#next++;
    this.diagnostic(r.diagnostics ?? []);
    this.#write(`${ktapResultLine(n, name, r.status, r.status === "skip" ? r.reason : r.directive)}\n`);
    return n;
  }

  totals(): void {
    this.#write(`${ktapTotals(this.#tally.counts)}\n`);
  }
}
