// Where a test command's results go. Runners hand their results to `sink`;
// this writes them as KTAP to stdout (unless stdout carries a JSON/JUnit
// document) and into --output for --format ktap, and keeps them as the
// result model for --format json|junit, written whole at the end. On a
// signal it ends every KTAP stream with `Bail out! interrupted` after the
// results so far (and writes the JSON/JUnit document so far, marked
// interrupted); any result that comes after that is dropped.
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { hostname, machine, release } from "node:os";
import { checkSettings, restoreAll, type SettingMismatch } from "../machine/restore.ts";
import { ReportCollector } from "../report/collect.ts";
import { renderJson } from "../report/json.ts";
import { renderJunit } from "../report/junit.ts";
import { KtapSink } from "../report/ktap.ts";
import type { RunReport } from "../report/model.ts";
import type { Counts, ResultSink } from "../report/result.ts";
import { exitCodeOf } from "./exit.ts";
import type { ReportOptions } from "./report-options.ts";
import { UsageError } from "./usage-error.ts";
import { VERSION } from "./version.ts";

export const BAIL_OUT = "Bail out! interrupted";

export class ReportOutput {
  readonly #opts: ReportOptions;
  readonly #command: string;
  readonly #collector = new ReportCollector();
  readonly #ktap = new KtapSink((text) => this.#writeKtap(text));
  readonly #started = new Date().toISOString();
  /** The --output file, open from the start (so a bad path fails before anything runs). */
  #fd: number | undefined;
  #closed = false;

  private constructor(opts: ReportOptions, command: string, fd: number | undefined) {
    this.#opts = opts;
    this.#command = command;
    this.#fd = fd;
  }

  /** Open --output (created or emptied now); a failure is bad usage. */
  static open(opts: ReportOptions, command: string): ReportOutput {
    let fd: number | undefined;
    if (opts.output !== undefined) {
      try {
        fd = openSync(opts.output, "w", 0o644);
      } catch (e) {
        throw new UsageError(`--output ${opts.output}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    return new ReportOutput(opts, command, fd);
  }

  /** Does stdout carry the KTAP stream? (Not when it carries a JSON/JUnit document.) */
  get #ktapOnStdout(): boolean {
    return this.#opts.output !== undefined || this.#opts.format === "ktap";
  }

  get #ktapToFile(): boolean {
    return this.#fd !== undefined && this.#opts.format === "ktap";
  }

  #writeKtap(text: string): void {
    if (this.#ktapOnStdout) process.stdout.write(text);
    if (this.#ktapToFile) writeSync(this.#fd!, text);
  }

  /** The run's result stream: every format gets each result; nothing once the output has ended. */
  readonly sink: ResultSink = {
    plan: (total) => {
      if (this.#closed) return;
      this.#ktap.plan(total);
      this.#collector.plan(total);
    },
    note: (text) => {
      if (this.#closed) return;
      this.#ktap.note(text);
      this.#collector.note(text);
    },
    result: (r) => {
      if (this.#closed) return;
      this.#ktap.result(r);
      this.#collector.result(r);
    },
  };

  /** Results so far. */
  get counts(): Counts {
    return this.#ktap.counts;
  }

  report(interrupted: string | null = null): RunReport {
    return {
      tool: "uffd-suite",
      version: VERSION,
      command: this.#command,
      kernel: { release: release(), arch: machine() },
      hostname: hostname(),
      started: this.#started,
      cases: this.#collector.records,
      summary: this.#collector.summary(interrupted),
    };
  }

  #document(interrupted: string | null): string | undefined {
    if (this.#opts.format === "json") return renderJson(this.report(interrupted));
    if (this.#opts.format === "junit") return renderJunit(this.report(interrupted));
    return undefined;
  }

  /**
   * Check the machine (#checkEnvironment), write the totals (after a note
   * when the results are not the planned number), the JSON/JUnit
   * document (if that is the format) and close the file. Returns, once
   * stdout has taken it all, the exit code of the results.
   */
  async finish(): Promise<number> {
    this.#checkEnvironment();
    // A part that ended early, or the environment result, leaves the plan line off: said before the totals.
    const { planned, emitted } = this.#ktap;
    if (emitted !== planned) this.sink.note(`planned ${planned} results, wrote ${emitted}`);
    if (!this.#closed) this.#ktap.totals();
    await this.#end(null);
    return exitCodeOf(this.#ktap.outcome());
  }

  /**
   * Put back whatever is still changed, then read every setting this run
   * changed: one that does not read as it was found (a shared count: plus
   * the shares of runs still going) is a failed result named `environment`,
   * after the others (before the totals, which count it), saying which
   * setting, what it should read and what it reads.
   */
  #checkEnvironment(): void {
    restoreAll();
    let bad: SettingMismatch[];
    try {
      bad = checkSettings();
    } catch (e) {
      bad = [{ path: "machine settings", expected: "to be read back", seen: `not read (${(e as Error).message})` }];
    }
    if (bad.length === 0) return;
    const [first] = bad;
    this.sink.result({
      name: "environment",
      part: "unit",
      memory: null,
      status: "fail",
      reason: `${first!.path} expected ${first!.expected}, seen ${first!.seen}`,
      diagnostics: bad.map((m) => `environment: ${m.path} should read ${m.expected} again, reads ${m.seen}`),
    });
  }

  /** End the output early after a signal: `Bail out!` on every KTAP stream, the document so far otherwise. */
  async interrupt(signal: string): Promise<void> {
    await this.#end(signal);
  }

  async #end(interrupted: string | null): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const doc = this.#document(interrupted);
    const tail = interrupted ? `${BAIL_OUT}\n` : "";
    if (this.#fd !== undefined) {
      try {
        if (doc !== undefined) {
          ftruncateSync(this.#fd, 0);
          writeSync(this.#fd, doc, 0);
        } else if (tail) {
          writeSync(this.#fd, tail);
        }
      } finally {
        closeSync(this.#fd);
        this.#fd = undefined;
      }
    }
    const out = this.#ktapOnStdout ? tail : (doc ?? "");
    // Resolve once stdout has taken everything written so far (process.exit would cut a piped stdout short).
    if (out !== "") await new Promise<void>((resolve) => process.stdout.write(out, () => resolve()));
  }
}
