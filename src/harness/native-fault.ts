// C faulting loops run in a pooled toucher Worker: the thread that takes the
// faults (and SIGBUS) is never the test thread, which may be the one that
// serves the userfaultfd. See src/sys/native/faults.c.
import { within } from "./settle.ts";
import { poisonScan, type PoisonScanResult, sigbusResolve, type SigbusResolveResult } from "../sys/native/faults.ts";
import type { UffdTestContext } from "./context.ts";
import type { PooledWorker } from "./pool.ts";
import type { NativeFaultJob } from "./protocol.ts";
import { caseLimitMs } from "./limits.ts";

export interface NativeFaultResults {
  "sigbus-resolve": SigbusResolveResult;
  "poison-scan": PoisonScanResult;
}

/** Worker side. */
export function runNativeFault(job: NativeFaultJob): SigbusResolveResult | PoisonScanResult {
  switch (job.routine) {
    case "sigbus-resolve":
      return sigbusResolve(job.args);
    case "poison-scan":
      return poisonScan(job.args);
  }
}

/**
 * Test side: run a faulting loop on a toucher Worker of the context's pool.
 * Rejects when the job runs past `timeoutMs` or a running handler fails; in
 * both cases the context's uffd is closed first, so a Worker waiting in a
 * fault is woken and has left the areas before they can be unmapped.
 */
export async function runFaultJob<R extends NativeFaultJob["routine"]>(
  ctx: UffdTestContext,
  routine: R,
  args: Extract<NativeFaultJob, { routine: R }>["args"],
  opts: { timeoutMs?: number } = {},
): Promise<NativeFaultResults[R]> {
  const w: PooledWorker = await ctx.pool.acquire("toucher");
  const job = { type: "native-fault", routine, args } as NativeFaultJob;
  const { result, finished } = w.runTracked<NativeFaultResults[R]>(job, { timeoutMs: opts.timeoutMs ?? caseLimitMs(30_000) });
  result.then(
    () => ctx.pool.release(w),
    () => ctx.pool.release(w),
  );
  const h = ctx.handlers;
  try {
    return await (h ? Promise.race([result, h.failed]) : result);
  } catch (e) {
    ctx.uffd.close();
    await within(finished, 10_000);
    throw e;
  }
}
