// Pin every thread of this process (main, Workers, the runtime's own) to one CPU.
// sched_setaffinity(tid) acts on one thread, and threads made later inherit
// the mask of the thread that makes them, so the bench pins again after it
// starts Workers.
import { readdirSync, readFileSync } from "node:fs";
import { libc } from "../sys/libc.ts";

const MASK_BYTES = 128;
/** CPUs the mask can name: 0 to MAX_CPUS - 1. */
export const MAX_CPUS = MASK_BYTES * 8;

export function pinAllThreads(cpu: number): number {
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= MAX_CPUS) {
    throw new RangeError(`cannot pin to cpu ${cpu}: the mask holds cpus 0 to ${MAX_CPUS - 1}`);
  }
  const mask = new Uint8Array(new ArrayBuffer(MASK_BYTES));
  mask[cpu >> 3] = 1 << (cpu & 7);
  let pinned = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    // A thread may end between the listing and the call (ESRCH): skip it.
    if (libc.sched_setaffinity(Number(tid), MASK_BYTES, mask) === 0) pinned++;
  }
  return pinned;
}

/** CPUs this process may run on, as the kernel lists them ("0-1"). */
export function allowedCpus(): string {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m?.[1] ?? "?";
}

/** Whether `cpu` is in a kernel CPU list ("0-3,8,10-11"); undefined where the list cannot be read. */
export function inCpuList(list: string, cpu: number): boolean | undefined {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(list)) return undefined;
  return list.split(",").some((part) => {
    const [lo, hi = lo] = part.split("-").map(Number);
    return cpu >= lo! && cpu <= hi!;
  });
}
