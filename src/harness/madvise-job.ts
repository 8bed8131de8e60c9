// madvise() from a pooled Worker, for advice that can block the calling
// thread until a userfaultfd event is read (MADV_REMOVE / MADV_DONTNEED on a
// range registered with EVENT_REMOVE). The JS thread must never be the one
// that blocks: it has to read the event.
import { gettid } from "../sys/fd.ts";
import { tryMadvise } from "../sys/mem.ts";
import type { WorkerPool } from "./pool.ts";
import type { MadviseJob } from "./protocol.ts";

/** Worker side: publish the thread id, then call madvise; returns 0 or the errno. */
export function runMadvise(job: MadviseJob): number {
  const tid = new Int32Array(job.tid);
  Atomics.store(tid, 0, gettid());
  Atomics.notify(tid, 0);
  return tryMadvise(job.addr, job.len, job.advice);
}

export interface PendingMadvise {
  /** Thread id of the Worker making the call (0 until it has started). */
  tid(): number;
  /** Settles with 0 or the errno once madvise has returned. */
  readonly done: Promise<number>;
  /** True once `done` has settled. */
  settled(): boolean;
}

/** Start madvise(addr, len, advice) in a pooled Worker; do not wait for it. */
export async function madviseInWorker(pool: WorkerPool, range: { addr: number; len: number }, advice: number): Promise<PendingMadvise> {
  const slot = new SharedArrayBuffer(4);
  const tid = new Int32Array(slot);
  const w = await pool.acquire("syscall");
  let over = false;
  const done = w.run<number>({ type: "madvise", addr: range.addr, len: range.len, advice, tid: slot });
  done
    .then(
      () => pool.release(w),
      () => pool.release(w),
    )
    .finally(() => (over = true));
  return { tid: () => Atomics.load(tid, 0), done, settled: () => over };
}
