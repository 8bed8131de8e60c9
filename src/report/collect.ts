// Keeps one CaseRecord per result of the stream, for the JSON and JUnit
// documents: the notes since the previous result join its diagnostics, the
// time since the previous result (or the plan) is its duration. Text is
// shaped as the KTAP of the same run shows it (one line per name, reason and
// diagnostic line), so every format says the same.
import { ktapText } from "./ktap.ts";
import type { CaseRecord, ReportSummary } from "./model.ts";
import type { Result, ResultSink, Status } from "./result.ts";

export class ReportCollector implements ResultSink {
  readonly records: CaseRecord[] = [];
  planned = 0;
  readonly #now: () => number;
  readonly #started: number;
  #last: number;
  #notes: string[] = [];

  /** `now`: milliseconds (performance.now by default; tests pass a fake clock). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.#started = now();
    this.#last = this.#started;
  }

  /** Seconds since the collector was made. */
  elapsed(): number {
    return seconds(this.#now() - this.#started);
  }

  /** The counts so far; `interrupted`: the signal that ended the run early. */
  summary(interrupted: string | null = null): ReportSummary {
    const count = (k: Status) => this.records.filter((r) => r.result === k).length;
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

  plan(total: number): void {
    this.planned ||= total;
    this.#last = this.#now();
  }

  note(text: string): void {
    this.#notes.push(...lines([text]));
  }

  result(r: Result): void {
    const now = this.#now();
    const diagnostics = [...this.#notes, ...lines(r.diagnostics)];
    this.#notes = [];
    const said = r.reason === undefined ? null : ktapText(r.reason);
    const reason = r.status === "pass" ? null : r.status === "skip" ? (said ?? "") : said || (diagnostics.at(-1) ?? null);
    this.records.push({
      n: this.records.length + 1,
      name: ktapText(r.name),
      part: r.part,
      memory: r.memory,
      result: r.status,
      reason,
      duration: seconds(now - this.#last),
      diagnostics,
    });
    this.#last = now;
  }
}

/** Diagnostic lines as their `# ` lines carry them: one per line, no trailing blanks. */
function lines(texts: readonly string[]): string[] {
  return texts.flatMap((t) => t.split("\n")).map((l) => l.trimEnd());
}

function seconds(ms: number): number {
  return Math.round(Math.max(0, ms)) / 1000;
}
