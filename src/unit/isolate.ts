// Run one (case, memory type) in a child process of this same program (the
// hidden `unit-case` command), with a time limit. A crash or a hang ends that
// child, never the run: it is killed with SIGKILL, reaped, and reported.
//
// Start-up (runtime, modules, Workers) is paid ahead: while one case runs, the
// next case process is already started and waits, warmed up, for its case on
// stdin. It takes nothing from the case before it but CPU time for start-up.
import type { Subprocess } from "bun";
import { InterruptedError, interrupted, onInterrupt } from "../harness/restore.ts";
import type { PlannedCase } from "./plan.ts";
import { type CaseResult, parseResultLine } from "./result.ts";
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

/** What a waiting case process reads on stdin: one JSON line. */
export interface CaseRequest {
  readonly case: string;
  readonly mem?: string;
}

export function caseRequest(entry: PlannedCase): CaseRequest {
  return entry.mem ? { case: entry.unit.name, mem: entry.mem.name } : { case: entry.unit.name };
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

/** Case processes for a run: `run` one case at a time; `close` ends the spare. */
export class CaseProcesses {
  readonly #opts: IsolateOptions;
  #spare: CaseProcess | undefined;

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

  #take(): CaseProcess {
    const cp = this.#spare ?? startCaseProcess();
    this.#spare = undefined;
    live.add(cp);
    return cp;
  }

  /** Run `entry`; with `next` set, start the process for the following case meanwhile. */
  async run(entry: PlannedCase, opts: { next: boolean }): Promise<CaseResult> {
    const started = performance.now();
    const cp = this.#take();
    const { proc } = cp;
    proc.stdin.write(`${JSON.stringify(caseRequest(entry))}\n`);
    await proc.stdin.end();
    if (opts.next) {
      this.#spare = startCaseProcess();
      live.add(this.#spare);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, this.#opts.timeoutMs);
    await proc.exited;
    clearTimeout(timer);
    live.delete(cp);
    const [stdout, stderr] = await Promise.all([cp.stdout, cp.stderr]);
    if (stderr) (this.#opts.stderr ?? ((t: string) => process.stderr.write(t)))(stderr);
    return { ...interpret(entry, proc, stdout, stderr, timedOut, this.#opts.timeoutLabel), ms: Math.round(performance.now() - started) };
  }

  /** End the spare process, if one is waiting, and reap it. */
  async close(): Promise<void> {
    const cp = this.#spare;
    this.#spare = undefined;
    if (!cp) return;
    await reap(cp);
    live.delete(cp);
  }
}

function interpret(
  entry: PlannedCase,
  proc: Subprocess,
  stdout: string,
  stderr: string,
  timedOut: boolean,
  timeoutLabel: string,
): CaseResult {
  if (timedOut) {
    return {
      status: "fail",
      directive: `TIMEOUT ${timeoutLabel}`,
      diagnostics: [`${entry.name}: still running after ${timeoutLabel}; killed with SIGKILL`],
    };
  }
  if (proc.signalCode) {
    const why = crashLine(stderr);
    return {
      status: "fail",
      directive: `crashed: ${proc.signalCode}`,
      diagnostics: [`${entry.name}: case process killed by ${proc.signalCode}${why ? ` (${why})` : ""}`],
    };
  }
  const line = stdout.split("\n").filter((l) => l.startsWith("{")).at(-1);
  const result = line ? parseResultLine(line) : undefined;
  if (!result) {
    return {
      status: "fail",
      diagnostics: [
        `${entry.name}: case process exited with code ${proc.exitCode} without a result`,
        ...tail(stderr, 5).map((l) => `stderr: ${l}`),
      ],
    };
  }
  return result;
}
