// Pin every thread of this process (main, Workers, the runtime's own) to one CPU.
// sched_setaffinity(tid) acts on one thread, and threads made later inherit
// the mask of the thread that makes them, so the bench pins again after it
// starts Workers.
import { readdirSync, readFileSync } from "node:fs";
import { libc } from "../sys/libc.ts";

const MASK_BYTES = 128; // 1024 CPUs

export function pinAllThreads(cpu: number): number {
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
