// KTAP / TAP 13 output as kernel CI parses it (SPEC §4):
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

/** Streams a KTAP document: header, then results as they come, then totals. */
export class KtapWriter {
  readonly counts: KtapCounts = { pass: 0, fail: 0, skip: 0 };
  readonly #write: (text: string) => void;
  #next = 1;

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  plan(total: number): void {
    this.#write(`TAP version 13\n1..${total}\n`);
  }

  diagnostic(lines: readonly string[]): void {
    if (lines.length > 0) this.#write(`${ktapDiagnostics(lines).join("\n")}\n`);
  }

  result(name: string, r: { status: KtapStatus; reason?: string; directive?: string; diagnostics?: readonly string[] }): number {
    const n = this.#next++;
    this.diagnostic(r.diagnostics ?? []);
    this.#write(`${ktapResultLine(n, name, r.status, r.status === "skip" ? r.reason : r.directive)}\n`);
    this.counts[r.status]++;
    return n;
  }

  totals(): void {
    this.#write(`${ktapTotals(this.counts)}\n`);
  }
}
