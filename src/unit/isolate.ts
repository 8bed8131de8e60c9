// Run one (case, memory type) in a child process of this same program (the
// hidden `unit-case` command), with a time limit. A crash or a hang ends that
// child, never the run: it is killed with SIGKILL, reaped, and reported.
//
// Start-up (runtime, modules, Workers) is paid ahead, and paid rarely: while
// cases run, spare case processes are already started and wait, warmed up,
// for a case on stdin; and a process whose case passed or skipped takes the
// next one (up to CASES_PER_PROCESS). A process is ended after a failure, so
// what a failing case left behind cannot reach another case.
//
// Each case goes with a fresh token and its verdict is read from that
// process's stdout against that token (record.ts): a verdict is printed only
// if that process sent it and then said "ready" or exited cleanly.
import { LineReader } from "../harness/lines.ts";
import type { Subprocess } from "bun";
import { InterruptedError, interrupted, onInterrupt } from "../machine/signals.ts";
import { log } from "../log.ts";
import type { PlannedCase } from "./plan.ts";
import { type CaseRequest, isReady, newToken, type Progress, readProgress } from "./record.ts";
import type { CaseResult } from "./result.ts";
import { selfCommand } from "../harness/self-exec.ts";

/** The hidden command a case process runs. */
export const CASE_COMMAND = "unit-case";

export interface IsolateOptions {
  readonly timeoutMs: number;
  /** How the limit is shown in a TIMEOUT directive ("60 s"). */
  readonly timeoutLabel: string;
  /** Where the child's stderr (its logs) goes; default our stderr. */
  readonly stderr?: (text: string) => void;
}

export function caseRequest(entry: PlannedCase, token?: string): CaseRequest {
  return { case: entry.unit.name, ...(entry.mem ? { mem: entry.mem.name } : {}), ...(token ? { token } : {}) };
}

/** The line Bun prints when it dies of a signal ("panic(main thread): Segmentation fault at address 0x8"). */
function crashLine(stderr: string): string | undefined {
  return stderr
    .split("\n")
    .find((l) => /^panic\(|Segmentation fault|Bus error|Aborted/.test(l))
    ?.trim();
}

function tail(text: string, lines: number): string[] {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-lines);
}

/** A case process may run this many cases before it is ended (memory it may have grown). */
export const CASES_PER_PROCESS = 16;

interface CaseProcess {
  readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  readonly stdout: LineReader;
  /** Its stderr since the last case ended (drained from the start, so a chatty child never blocks). */
  stderr: string;
  readonly stderrDone: Promise<void>;
  /** Cases it has been given. */
  cases: number;
}

function startCaseProcess(): CaseProcess {
  const sig = interrupted();
  if (sig) throw new InterruptedError(`interrupted by ${sig}: no more case processes`);
  const proc = Bun.spawn([...selfCommand(), CASE_COMMAND, "--stdin"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: process.env,
    // Its own session: a Ctrl-C at the terminal reaches the runner alone,
    // which ends its case processes itself (and reports no false crash).
    detached: true,
  });
  const cp: CaseProcess = { proc, stdout: new LineReader(proc.stdout), stderr: "", stderrDone: Promise.resolve(), cases: 0 };
  const drain = async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) cp.stderr += dec.decode(chunk, { stream: true });
  };
  return Object.assign(cp, { stderrDone: drain().catch(() => undefined) });
}

async function reap(cp: CaseProcess): Promise<void> {
  cp.proc.kill("SIGKILL");
  await cp.proc.exited;
  await cp.stderrDone;
}

const live = new Set<CaseProcess>();
let hooked = false;

/** Hand `req` to a process; false if its stdin is already closed (it died before reading). */
async function send(cp: CaseProcess, req: CaseRequest): Promise<boolean> {
  try {
    cp.proc.stdin.write(`${JSON.stringify(req)}\n`);
    await cp.proc.stdin.flush();
    return true;
  } catch {
    return false;
  }
}

/** Case processes for a run: `run` cases (several at once if asked), `warm` spares, `close` ends them all. */
export class CaseProcesses {
  readonly #opts: IsolateOptions;
  readonly #spares: CaseProcess[] = [];

  constructor(opts: IsolateOptions) {
    this.#opts = opts;
    if (!hooked) {
      hooked = true;
      // An interrupted run takes its case processes with it (killed and reaped).
      onInterrupt(() => {
        for (const cp of live) cp.proc.kill("SIGKILL");
        return Promise.all([...live].map((cp) => cp.proc.exited));
      });
    }
  }

  /** Keep `n` warmed-up processes waiting for a case (start the missing ones now). */
  warm(n: number): void {
    while (this.#spares.length < n) {
      const cp = startCaseProcess();
      live.add(cp);
      this.#spares.push(cp);
    }
  }

  #log(cp: CaseProcess): void {
    const text = cp.stderr;
    cp.stderr = "";
    if (text) (this.#opts.stderr ?? ((t: string) => process.stderr.write(t)))(text);
  }

  /**
   * Run `entry` in a waiting process (or a new one) and judge what that
   * process sent. After a pass or a skip, once it says it is ready again, the
   * process waits for another case; after anything else it is ended.
   */
  async run(entry: PlannedCase): Promise<CaseResult> {
    const started = performance.now();
    const cp = this.#spares.shift() ?? startCaseProcess();
    const first = await this.#runIn(entry, cp);
    let result = first.result;
    if (first.stage === "no-ack" && cp.cases > 1 && !result.reason?.startsWith("TIMEOUT")) {
      // A process that ran cases before died idle, before it took this one: this
      // case never started. It runs in a new process; the death is shown with it.
      const again = await this.#runIn(entry, startCaseProcess());
      result = {
        ...again.result,
        diagnostics: [...first.result.diagnostics.map((d) => `before this case: ${d}`), ...again.result.diagnostics],
      };
    }
    const ms = Math.round(performance.now() - started);
    log.debug(`${entry.name}: the case took ${result.ms ?? "?"} ms of the ${ms} ms from its request to its verdict`);
    return { ...result, ms };
  }

  /** One case in `cp`: its verdict, and how far the process got. */
  async #runIn(entry: PlannedCase, cp: CaseProcess): Promise<{ result: CaseResult; stage: Progress["stage"] }> {
    live.add(cp);
    cp.cases++;
    const { proc } = cp;
    const req = caseRequest(entry, newToken());
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, this.#opts.timeoutMs);
    const sent = await send(cp, req);
    // What it sends for this case, up to "ready" or the end of its output.
    const lines: string[] = [];
    let ready = false;
    for (let line = await cp.stdout.next(); line !== undefined; line = await cp.stdout.next()) {
      if (isReady(line, req)) {
        ready = true;
        break;
      }
      lines.push(line);
    }
    const segment = lines.map((l) => `${l}\n`).join("") + (ready ? "" : cp.stdout.rest);
    const progress = readProgress(segment, req);
    let r: CaseResult;
    if (ready && !timedOut && progress.stage === "result") {
      clearTimeout(timer);
      r = progress.result;
      if (r.status === "fail" || cp.cases >= CASES_PER_PROCESS) {
        // Idle (it said so): nothing of it is left to wait for.
        await reap(cp);
        live.delete(cp);
      } else {
        this.#spares.unshift(cp);
      }
    } else if (ready && !timedOut) {
      // Idle again, but without one valid record for this case: no verdict from it.
      clearTimeout(timer);
      await reap(cp);
      live.delete(cp);
      const why = progress.stage === "bad" ? progress.why : "no result record";
      r = { status: "fail", diagnostics: [`${entry.name}: case process said it was done, with ${why}`] };
    } else {
      await proc.exited;
      clearTimeout(timer);
      await cp.stderrDone;
      live.delete(cp);
      const ended = { exitCode: proc.exitCode, signalCode: proc.signalCode === null ? null : String(proc.signalCode), timedOut, sent };
      r = judge(entry, progress, ended, { stderr: cp.stderr, timeoutLabel: this.#opts.timeoutLabel });
    }
    this.#log(cp);
    return { result: r, stage: progress.stage };
  }

  /** End every process of this run still alive (idle spares, and cases of a run cut short) and reap them. */
  async close(): Promise<void> {
    const all = new Set([...this.#spares.splice(0), ...live]);
    await Promise.all(
      [...all].map(async (cp) => {
        await reap(cp);
        live.delete(cp);
      }),
    );
  }
}

/** How a case process ended. */
export interface Ended {
  readonly exitCode: number | null;
  readonly signalCode: string | null;
  readonly timedOut: boolean;
  /** Did its stdin take the request? */
  readonly sent: boolean;
}

const WHERE: Record<Exclude<Progress["stage"], "result" | "bad">, string> = {
  "no-ack": "before it took its case",
  acked: "during its case, before any result",
  partial: "while writing its result (half a record)",
};

/** The verdict for `entry` from what its process sent and how it ended. */
export function judge(entry: PlannedCase, progress: Progress, ended: Ended, opts: { stderr: string; timeoutLabel: string }): CaseResult {
  const { stderr, timeoutLabel } = opts;
  if (ended.timedOut) {
    return {
      status: "fail",
      reason: `TIMEOUT ${timeoutLabel}`,
      diagnostics: [`${entry.name}: still running after ${timeoutLabel}; killed with SIGKILL`],
    };
  }
  const why = ended.signalCode ? crashLine(stderr) : undefined;
  const how = ended.signalCode ? `killed by ${ended.signalCode}${why ? ` (${why})` : ""}` : `exited with code ${ended.exitCode}`;
  const crashed = ended.signalCode ? { reason: `crashed: ${ended.signalCode}` } : {};
  if (progress.stage === "result") {
    if (!ended.signalCode && ended.exitCode === 0) return progress.result;
    // What it sent stands as a diagnostic; the verdict is the crash.
    return {
      status: "fail",
      ...crashed,
      diagnostics: [...progress.result.diagnostics, `${entry.name}: case process ${how} after its result (${progress.result.status})`],
    };
  }
  const where =
    progress.stage === "bad" ? `with ${progress.why}` : `${WHERE[progress.stage]}${ended.sent ? "" : " (its stdin was closed)"}`;
  return {
    status: "fail",
    ...crashed,
    diagnostics: [`${entry.name}: case process ${how} ${where}`, ...(ended.signalCode ? [] : tail(stderr, 5).map((l) => `stderr: ${l}`))],
  };
}
