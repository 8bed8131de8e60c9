// Reads a KTAP stream as it is written and keeps one CaseRecord per result
// line: the `# ` lines before it are its diagnostics, the time since the
// previous result its duration. The same reading serves every command
// (unit, stress, wp-mremap, run), whatever runner wrote the stream.
import { type CaseRecord, memoryOf, partOf, type ReportSummary, type ResultKind } from "./model.ts";

const RESULT = /^(not ok|ok) (\d+) ([^#]*?)\s*(?:#\s*(.*))?$/;

export interface ParsedResult {
  readonly n: number;
  readonly name: string;
  readonly result: ResultKind;
  /** What follows the name's `# `, if anything: `SKIP reason`, `TIMEOUT 60 s`. */
  readonly directive: string | null;
}

/** One KTAP result line, or undefined for any other line. */
export function parseKtapResult(line: string): ParsedResult | undefined {
  const m = RESULT.exec(line);
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

export class KtapCollector {
  readonly records: CaseRecord[] = [];
  planned = 0;
  readonly #now: () => number;
  readonly #started: number;
  #last: number;
  #partial = "";
  #diagnostics: string[] = [];

  /** `now`: milliseconds (performance.now by default; tests pass a fake clock). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.#started = now();
    this.#last = this.#started;
  }

  /** Feed text as written; whole lines are read, a partial line waits for its end. */
  readonly write = (text: string): void => {
    const lines = (this.#partial + text).split("\n");
    this.#partial = lines.pop()!;
    for (const line of lines) this.#line(line.replace(/\r$/, ""));
  };

  /** Seconds since the collector was made. */
  elapsed(): number {
    return seconds(this.#now() - this.#started);
  }

  /** The counts so far; `interrupted`: the signal that ended the run early. */
  summary(interrupted: string | null = null): ReportSummary {
    const count = (k: ResultKind) => this.records.filter((r) => r.result === k).length;
    return {
      planned: this.planned,
      total: this.records.length,
      pass: count("pass"),
      fail: count("fail"),
      skip: count("skip"),
      duration: this.elapsed(),
      interrupted,
    };
  }

  #line(line: string): void {
    const plan = /^1\.\.(\d+)/.exec(line);
    if (plan) {
      this.planned ||= Number(plan[1]);
      this.#last = this.#now();
      return;
    }
    if (/^# Totals: /.test(line) || /^K?TAP version /.test(line)) return;
    if (line.startsWith("#")) {
      this.#diagnostics.push(line.replace(/^# ?/, ""));
      return;
    }
    const r = parseKtapResult(line);
    if (!r) return;
    const now = this.#now();
    const diagnostics = this.#diagnostics;
    this.#diagnostics = [];
    const reason = r.result === "pass" ? null : (r.directive ?? (r.result === "fail" ? (diagnostics.at(-1) ?? null) : null));
    this.records.push({
      n: r.n,
      name: r.name,
      part: partOf(r.name),
      memory: memoryOf(r.name),
      result: r.result,
      reason,
      duration: seconds(now - this.#last),
      diagnostics,
    });
    this.#last = now;
  }
}

function seconds(ms: number): number {
  return Math.round(Math.max(0, ms)) / 1000;
}
