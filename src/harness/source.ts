// The C suite's source page layout: a pthread mutex at offset 0 of every page
// and a 64-bit counter after it (starting at 1), with a non-zero word after
// the counter. `countVerify` mirrors the counters.
import { PTHREAD_MUTEX_SIZE } from "../sys/arch.ts";
import { toArrayBufferAt } from "../sys/mem.ts";

export const MUTEX_SIZE = PTHREAD_MUTEX_SIZE[process.arch] ?? 40;
/** Offset of the counter inside a page (the mutex size rounded up to 8). */
export const COUNT_OFFSET = Math.ceil(MUTEX_SIZE / 8) * 8;

/** Write the layout into `pages` pages at `addr` (fresh, zeroed memory: a zero mutex is an unlocked one). */
export function initSourcePages(addr: number, pages: number, pageSize: number): Float64Array {
  const view = new DataView(toArrayBufferAt(addr, pages * pageSize));
  const verify = new Float64Array(pages);
  for (let p = 0; p < pages; p++) {
    const at = p * pageSize;
    for (let i = 0; i < COUNT_OFFSET; i += 4) view.setUint32(at + i, 0, true);
    view.setUint32(at + COUNT_OFFSET, 1, true);
    view.setUint32(at + COUNT_OFFSET + 4, 0, true);
    view.setUint32(at + COUNT_OFFSET + 8, 1, true);
    view.setUint32(at + COUNT_OFFSET + 12, 0, true);
    verify[p] = 1;
  }
  return verify;
}
