// A stress row of `run` in a child process (`uffd-suite stress MEM MIB
// BOUNCES --format json`), so it can go on beside the unit cases: a stress
// run waits on its Workers more than it computes. Its JSON report is read
// back whole; the verdict is taken only from exactly one case with the row's
// name, from a process whose exit code agrees with it (0 pass, 4 skip, 1 fail).
import type { Subprocess } from "bun";
import { InterruptedError, interrupted, onInterrupt } from "../machine/signals.ts";
import type { CaseRecord } from "../report/model.ts";
import type { Status } from "../report/result.ts";
import { selfCommand } from "../harness/self-exec.ts";

export interface RowOutcome {
  readonly status: Status;
  readonly reason?: string;
  /** The `# ` lines the run printed before its result (without the `# `). */
  readonly notes: readonly string[];
}

const live = new Set<Subprocess>();
let hooked = false;

const EXIT_OF: Record<Status, number> = { pass: 0, skip: 4, fail: 1 };

/** The cases of a JSON report, or none when the text is not one (a crash before the end). */
function casesOf(text: string): CaseRecord[] {
  try {
    const doc = JSON.parse(text) as { cases?: unknown };
    return Array.isArray(doc.cases) ? (doc.cases as CaseRecord[]) : [];
  } catch {
    return [];
  }
}

/** Run `stress <args>` in a child process; `name` is the result name it must print. */
export async function stressInChild(args: readonly string[], name: string): Promise<RowOutcome> {
  const sig = interrupted();
  if (sig) throw new InterruptedError(`interrupted by ${sig}: no more stress runs`);
  if (!hooked) {
    hooked = true;
    onInterrupt(() => {
      for (const p of live) p.kill("SIGKILL");
      return Promise.all([...live].map((p) => p.exited));
    });
  }
  const proc = Bun.spawn([...selfCommand(), "stress", ...args, "--format", "json"], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
    env: process.env,
  });
  live.add(proc);
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  live.delete(proc);
  const cases = casesOf(text);
  // The report's diagnostics: the run's notes, and for a failure its reason as the last line.
  const notes = cases.flatMap((c) => c.diagnostics);
  const how = proc.signalCode ? `killed by ${proc.signalCode}` : `exited with code ${proc.exitCode}`;
  const only = cases.length === 1 && cases[0]!.name === name ? cases[0]! : undefined;
  if (only && !proc.signalCode && proc.exitCode === EXIT_OF[only.result]) {
    return { status: only.result, reason: only.result === "skip" ? (only.reason ?? undefined) : undefined, notes };
  }
  const seen = cases.length === 0 ? "no result" : cases.map((r) => `'${r.result} ${r.name}'`).join(", ");
  return {
    status: "fail",
    reason: proc.signalCode ? `crashed: ${proc.signalCode}` : undefined,
    notes: [...notes, `${name}: stress process ${how} with ${seen}`],
  };
}
