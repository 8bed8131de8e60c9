// Where a test command's results go. Runners write one KTAP stream; this
// passes it to stdout (unless stdout carries a JSON/JUnit document), streams
// it into --output for --format ktap, and reads it into the result model for
// --format json|junit, written whole at the end. On a signal it ends every
// KTAP stream with `Bail out! interrupted` after the results so far (and
// writes the JSON/JUnit document so far, marked interrupted); anything a
// runner writes after that is dropped.
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { hostname, machine, release } from "node:os";
import { checkSettings, restoreAll, type SettingMismatch } from "../machine/restore.ts";
import { KtapCollector } from "../report/collect.ts";
import { renderJson } from "../report/json.ts";
import { renderJunit } from "../report/junit.ts";
import { ktapDiagnostics, ktapResultLine } from "../report/ktap.ts";
import type { RunReport } from "../report/model.ts";
import type { ReportOptions } from "./report-options.ts";
import { UsageError } from "./usage-error.ts";
import { VERSION } from "./version.ts";

export const BAIL_OUT = "Bail out! interrupted";

export class ReportOutput {
  readonly #opts: ReportOptions;
  readonly #command: string;
  readonly #collector = new KtapCollector();
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

  /** The KTAP stream of the run, as runners write it. */
  readonly write = (text: string): void => {
    if (this.#closed) return;
    this.#collector.write(text);
    if (this.#ktapOnStdout) process.stdout.write(text);
    if (this.#ktapToFile) writeSync(this.#fd!, text);
  };

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
   * Check the machine (#checkEnvironment), write the JSON/JUnit document
   * (if that is the format) and close the file. Returns, once stdout has
   * taken it all, whether every changed setting reads as it was found.
   */
  async finish(): Promise<boolean> {
    const ok = this.#checkEnvironment();
    await this.#end(null);
    return ok;
  }

  /**
   * Put back whatever is still changed, then read every setting this run
   * changed: one that does not read as it was found (a shared count: plus
   * the shares of runs still going) is a failed result named `environment`,
   * after the others, saying which setting, what it should read and what it
   * reads. Returns whether all is as found.
   */
  #checkEnvironment(): boolean {
    restoreAll();
    let bad: SettingMismatch[];
    try {
      bad = checkSettings();
    } catch (e) {
      bad = [{ path: "machine settings", expected: "to be read back", seen: `not read (${(e as Error).message})` }];
    }
    if (bad.length === 0) return true;
    const lines = bad.map((m) => `environment: ${m.path} should read ${m.expected} again, reads ${m.seen}`);
    const [first] = bad;
    const directive = `${first!.path} expected ${first!.expected}, seen ${first!.seen}`;
    this.write(`${ktapDiagnostics(lines).join("\n")}\n${ktapResultLine(this.#collector.records.length + 1, "environment", "fail", directive)}\n`);
    return false;
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
