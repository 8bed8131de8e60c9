// The faulting side run inside a toucher Worker: touch pages, then verify.
import { lastErrno } from "../sys/errno.ts";
import { gettid } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";
import { toArrayBufferAt } from "../sys/mem.ts";
import type { TouchJob, TouchResult } from "./protocol.ts";
import { TAG_OFFSET, wrongPage } from "./source.ts";

export function touch(job: TouchJob): TouchResult {
  const tid = job.reportTid ? gettid() : undefined;
  const r =
    job.op !== "read" && job.op !== "write" ? syscallOp(job) : touchPages(job, job.progress ? new Int32Array(job.progress) : undefined);
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
        const page = Math.floor(byte / job.pageSize);
        first = { page, offset: byte % job.pageSize, got: got[i]!, want: w, wrongPage: pageTagMismatch(got, want, x, page, job.pageSize) };
      }
      mismatches++;
    }
  }
  return first ? { touched: job.pages, mismatches, firstMismatch: first } : { touched: job.pages, mismatches };
}

/**
 * Where the reference page carries a source tag (source.ts): whose data the
 * page read holds instead, when that is what is wrong; undefined otherwise.
 */
function pageTagMismatch(got: Uint32Array, want: Uint32Array, x: number, page: number, pageSize: number): string | undefined {
  if (pageSize < TAG_OFFSET + 8) return undefined;
  const t = (page * pageSize + TAG_OFFSET) >>> 2;
  const seed = want[t + 1]!;
  if (seed === 0 || want[t] !== page) return undefined;
  return wrongPage(page, (got[t]! ^ x) >>> 0, (got[t + 1]! ^ x) >>> 0, seed);
}

/**
 * A compare's outcome in words, for a check's "seen": how many words differ
 * and, first, the wrong page (`page 3 holds page 4's data`) or the first
 * differing word.
 */
export function describeMismatch(r: TouchResult): string {
  const m = r.firstMismatch;
  if (!m) return `${r.mismatches} words differ`;
  if (m.wrongPage) return `${r.mismatches} words differ: ${m.wrongPage}`;
  return `${r.mismatches} words differ, first in page ${m.page} at offset ${m.offset}: 0x${m.got.toString(16)} instead of 0x${m.want.toString(16)}`;
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
