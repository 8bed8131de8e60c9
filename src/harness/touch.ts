// The faulting side run inside a toucher Worker: touch pages, then verify.
import { lastErrno } from "../sys/errno.ts";
import { gettid } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";
import { toArrayBufferAt } from "../sys/mem.ts";
import type { TouchJob, TouchResult } from "./protocol.ts";

export function touch(job: TouchJob): TouchResult {
  const tid = job.reportTid ? gettid() : undefined;
  const r = job.op !== "read" && job.op !== "write" ? syscallOp(job)
    : touchPages(job, job.progress ? new Int32Array(job.progress) : undefined);
  return tid === undefined ? r : { ...r, tid };
}

/**
 * Touch one byte per page; with `progress` (see TouchJob.progress) also record
 * which step of the test each access completed in.
 */
function touchPages(job: TouchJob, progress?: Int32Array): TouchResult {
  const bytes = new Uint8Array(toArrayBufferAt(job.start, job.pages * job.pageSize));
  const offset = job.offset ?? 0;
  let sink = 0;
  for (let p = 0; p < job.pages; p++) {
    const at = p * job.pageSize + offset;
    if (job.op === "read") sink += bytes[at]!;
    else bytes[at] = job.value ?? 0;
    if (progress) {
      if (2 + p < progress.length) Atomics.store(progress, 2 + p, Atomics.load(progress, 1));
      Atomics.add(progress, 0, 1);
      Atomics.notify(progress, 0);
    }
  }
  if (job.compareWith === undefined) return { touched: job.pages, mismatches: sink & 0 };
  return compare(job);
}

function compare(job: TouchJob & { compareWith?: number }): TouchResult {
  const len = job.pages * job.pageSize;
  const got = new Uint32Array(toArrayBufferAt(job.start, len));
  const want = new Uint32Array(toArrayBufferAt(job.compareWith!, len));
  const x = job.xor ? 0xffffffff : 0;
  let mismatches = 0;
  let first: TouchResult["firstMismatch"];
  for (let i = 0; i < got.length; i++) {
    const w = (want[i]! ^ x) >>> 0;
    if (got[i] !== w) {
      if (first === undefined) {
        const byte = i * 4;
        first = { page: Math.floor(byte / job.pageSize), offset: byte % job.pageSize, got: got[i]!, want: w };
      }
      mismatches++;
    }
  }
  return first ? { touched: job.pages, mismatches, firstMismatch: first } : { touched: job.pages, mismatches };
}

/** The kernel-side ops (TouchSyscallOp): rc is the last result, or -errno of the first failure. */
function syscallOp(job: TouchJob): TouchResult {
  const len = job.pages * job.pageSize;
  switch (job.op) {
    case "write-fd": {
      let rc = 0;
      for (let p = 0; p < job.pages; p++) {
        rc = libc.write(job.fd ?? -1, job.start + p * job.pageSize + (job.offset ?? 0), job.len ?? 1);
        if (rc < 0) return { touched: p, mismatches: 0, rc: -lastErrno() };
      }
      return { touched: job.pages, mismatches: 0, rc };
    }
    case "munmap":
      return { touched: 0, mismatches: 0, rc: libc.munmap(job.start, len) < 0 ? -lastErrno() : 0 };
    case "mremap": {
      const r = libc.mremap(job.start, len, job.newLen ?? len, 0, 0);
      return { touched: 0, mismatches: 0, rc: typeof r === "bigint" ? -lastErrno() : 0 };
    }
    default:
      throw new Error(`toucher: unknown op ${String(job.op)}`);
  }
}
