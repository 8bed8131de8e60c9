// A stress row of `run` in a child process (`uffd-suite stress MEM MIB
// BOUNCES`), so it can go on beside the unit cases: a stress run waits on
// its Workers more than it computes. Its KTAP is read back whole; the verdict
// is taken only from exactly one result line with the row's name, from a
// process whose exit code agrees with it (0 pass, 4 skip, 1 fail).
import type { Subprocess } from "bun";
import { InterruptedError, interrupted, onInterrupt } from "../machine/signals.ts";
import { parseKtapResult } from "../report/collect.ts";
import type { KtapStatus } from "../report/ktap.ts";
import { selfCommand } from "../harness/self-exec.ts";

export interface RowOutcome {
  readonly status: KtapStatus;
  readonly reason?: string;
  /** The `# ` lines the run printed before its result (without the `# `). */
  readonly notes: readonly string[];
}

const live = new Set<Subprocess>();
let hooked = false;

const EXIT_OF: Record<KtapStatus, number> = { pass: 0, skip: 4, fail: 1 };

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
  const proc = Bun.spawn([...selfCommand(), "stress", ...args], { stdin: "ignore", stdout: "pipe", stderr: "inherit", env: process.env });
  live.add(proc);
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  live.delete(proc);
  const lines = text.split("\n");
  const notes = lines.filter((l) => l.startsWith("# ") && !l.startsWith("# Totals:")).map((l) => l.slice(2));
  const results = lines.map(parseKtapResult).filter((r) => r !== undefined);
  const how = proc.signalCode ? `killed by ${proc.signalCode}` : `exited with code ${proc.exitCode}`;
  const only = results.length === 1 && results[0]!.name === name ? results[0]! : undefined;
  if (only && !proc.signalCode && proc.exitCode === EXIT_OF[only.result]) {
    return { status: only.result, reason: only.directive ?? undefined, notes };
  }
  const seen = results.length === 0 ? "no result" : results.map((r) => `'${r.result} ${r.name}'`).join(", ");
  return {
    status: "fail",
    reason: proc.signalCode ? `crashed: ${proc.signalCode}` : undefined,
    notes: [...notes, `${name}: stress process ${how} with ${seen}`],
  };
}
