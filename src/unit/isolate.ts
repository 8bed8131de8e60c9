// Run one (case, memory type) in a child process of this same program (the
// hidden `unit-case` command), with a time limit. A crash or a hang ends that
// child, never the run: it is killed with SIGKILL, reaped, and reported.
//
// Start-up (runtime, modules, Workers) is paid ahead: while cases run, spare
// case processes are already started and wait, warmed up, for a case on
// stdin. A spare takes nothing from the cases before it but CPU time.
//
// Each process gets its case with a fresh token and its verdict is read from
// its own stdout against that token (record.ts): a verdict is printed only if
// that process sent it and then exited cleanly.
import type { Subprocess } from "bun";
import { InterruptedError, interrupted, onInterrupt } from "../harness/restore.ts";
import { log } from "../log.ts";
import type { PlannedCase } from "./plan.ts";
import { type CaseRequest, newToken, type Progress, readProgress } from "./record.ts";
import type { CaseResult } from "./result.ts";
import { selfCommand } from "./self-exec.ts";

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
  return stderr.split("\n").find((l) => /^panic\(|Segmentation fault|Bus error|Aborted/.test(l))?.trim();
}

function tail(text: string, lines: number): string[] {
  return text.split("\n").map((l) => l.trimEnd()).filter(Boolean).slice(-lines);
}

interface CaseProcess {
  readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  /** Both pipes drained from the start, so a chatty child never blocks on a full pipe. */
  readonly stdout: Promise<string>;
  readonly stderr: Promise<string>;
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
  return { proc, stdout: new Response(proc.stdout).text(), stderr: new Response(proc.stderr).text() };
}

async function reap(cp: CaseProcess): Promise<void> {
  cp.proc.kill("SIGKILL");
  await cp.proc.exited;
  await Promise.allSettled([cp.stdout, cp.stderr]);
}

const live = new Set<CaseProcess>();
let hooked = false;

/** Hand `req` to a process; false if its stdin is already closed (it died before reading). */
async function send(cp: CaseProcess, req: CaseRequest): Promise<boolean> {
  try {
    cp.proc.stdin.write(`${JSON.stringify(req)}\n`);
    await cp.proc.stdin.end();
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

  /** Run `entry` in a spare (or a new process) and judge what that process sent. */
  async run(entry: PlannedCase): Promise<CaseResult> {
    const started = performance.now();
    const cp = this.#spares.shift() ?? startCaseProcess();
    live.add(cp);
    const { proc } = cp;
    const req = caseRequest(entry, newToken());
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, this.#opts.timeoutMs);
    const sent = await send(cp, req);
    await proc.exited;
    clearTimeout(timer);
    live.delete(cp);
    const [stdout, stderr] = await Promise.all([cp.stdout, cp.stderr]);
    if (stderr) (this.#opts.stderr ?? ((t: string) => process.stderr.write(t)))(stderr);
    const ended = { exitCode: proc.exitCode, signalCode: proc.signalCode === null ? null : String(proc.signalCode), timedOut, sent };
    const r = judge(entry, readProgress(stdout, req), ended, { stderr, timeoutLabel: this.#opts.timeoutLabel });
    const ms = Math.round(performance.now() - started);
    log.debug(`${entry.name}: the case took ${r.ms ?? "?"} ms of the ${ms} ms from its request to its process's end`);
    return { ...r, ms };
  }

  /** End every process of this run still alive (spares, and cases of a run cut short) and reap them. */
  async close(): Promise<void> {
    const spares = this.#spares.splice(0);
    await Promise.all([...new Set([...spares, ...live])].map(async (cp) => {
      await reap(cp);
      live.delete(cp);
    }));
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
      directive: `TIMEOUT ${timeoutLabel}`,
      diagnostics: [`${entry.name}: still running after ${timeoutLabel}; killed with SIGKILL`],
    };
  }
  const why = ended.signalCode ? crashLine(stderr) : undefined;
  const how = ended.signalCode
    ? `killed by ${ended.signalCode}${why ? ` (${why})` : ""}`
    : `exited with code ${ended.exitCode}`;
  const crashed = ended.signalCode ? { directive: `crashed: ${ended.signalCode}` } : {};
  if (progress.stage === "result") {
    if (!ended.signalCode && ended.exitCode === 0) return progress.result;
    // What it sent stands as a diagnostic; the verdict is the crash.
    return {
      status: "fail",
      ...crashed,
      diagnostics: [...progress.result.diagnostics, `${entry.name}: case process ${how} after its result (${progress.result.status})`],
    };
  }
  const where = progress.stage === "bad" ? `with ${progress.why}` : `${WHERE[progress.stage]}${ended.sent ? "" : " (its stdin was closed)"}`;
  return {
    status: "fail",
    ...crashed,
    diagnostics: [
      `${entry.name}: case process ${how} ${where}`,
      ...(ended.signalCode ? [] : tail(stderr, 5).map((l) => `stderr: ${l}`)),
    ],
  };
}
