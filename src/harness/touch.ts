// The faulting side run inside a toucher Worker: touch pages, then verify.
import { toArrayBufferAt } from "../sys/mem.ts";
import type { TouchJob, TouchResult } from "./protocol.ts";

export function touch(job: TouchJob): TouchResult {
  const len = job.pages * job.pageSize;
  const bytes = new Uint8Array(toArrayBufferAt(job.start, len));
  const offset = job.offset ?? 0;
  let sink = 0;
  for (let p = 0; p < job.pages; p++) {
    const at = p * job.pageSize + offset;
    if (job.op === "read") sink += bytes[at]!;
    else bytes[at] = job.value ?? 0;
  }
  if (job.compareWith === undefined) return { touched: job.pages, mismatches: sink & 0 };
  const got = new Uint32Array(toArrayBufferAt(job.start, len));
  const want = new Uint32Array(toArrayBufferAt(job.compareWith, len));
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
