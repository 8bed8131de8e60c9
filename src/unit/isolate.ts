// Run one (case, memory type) in a child process of this same program (the
// hidden `unit-case` command), with a time limit. A crash or a hang ends that
// child, never the run: it is killed with SIGKILL, reaped, and reported.
import { onInterrupt } from "../harness/restore.ts";
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

export function caseArgs(entry: PlannedCase): string[] {
  return [CASE_COMMAND, "--case", entry.unit.name, ...(entry.mem ? ["--mem", entry.mem.name] : [])];
}

/** The line Bun prints when it dies of a signal ("panic(main thread): Segmentation fault at address 0x8"). */
function crashLine(stderr: string): string | undefined {
  return stderr.split("\n").find((l) => /^panic\(|Segmentation fault|Bus error|Aborted/.test(l))?.trim();
}

function tail(text: string, lines: number): string[] {
  return text.split("\n").map((l) => l.trimEnd()).filter(Boolean).slice(-lines);
}

/** The case process running now: an interrupted run kills it before exiting. */
let current: { kill(signal: number | NodeJS.Signals): void } | undefined;
let hooked = false;

export async function runIsolated(entry: PlannedCase, opts: IsolateOptions): Promise<CaseResult> {
  const started = performance.now();
  const proc = Bun.spawn([...selfCommand(), ...caseArgs(entry)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: process.env,
  });
  current = proc;
  if (!hooked) {
    hooked = true;
    onInterrupt(() => current?.kill("SIGKILL"));
  }
  // Drain both pipes while it runs, so a chatty child never blocks on a full pipe.
  const out = new Response(proc.stdout).text();
  const err = new Response(proc.stderr).text();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs);
  await proc.exited;
  clearTimeout(timer);
  current = undefined;
  const [stdout, stderr] = await Promise.all([out, err]);
  if (stderr) (opts.stderr ?? ((t: string) => process.stderr.write(t)))(stderr);
  const ms = Math.round(performance.now() - started);

  if (timedOut) {
    return {
      status: "fail",
      directive: `TIMEOUT ${opts.timeoutLabel}`,
      diagnostics: [`${entry.name}: still running after ${opts.timeoutLabel}; killed with SIGKILL`],
      ms,
    };
  }
  if (proc.signalCode) {
    const why = crashLine(stderr);
    return {
      status: "fail",
      directive: `crashed: ${proc.signalCode}`,
      diagnostics: [`${entry.name}: case process killed by ${proc.signalCode}${why ? ` (${why})` : ""}`],
      ms,
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
      ms,
    };
  }
  return { ...result, ms };
}
