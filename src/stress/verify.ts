// The stress checks that run between bounces, on unregistered memory: which
// page a locking Worker starts from, and the verify pass over every page.
import { COUNT_OFFSET, RUN_SEED, TAG_OFFSET, wrongPage } from "../harness/source.ts";
import { toArrayBufferAt } from "../sys/mem.ts";
import { BOUNCE } from "./protocol.ts";

/**
 * The first page a sequential locking loop takes: the C starts from
 * -bounces (an unsigned long, so 2^64 - bounces), adds the group's slice
 * unless faults race, and reduces modulo the page count after its first +1.
 */
export function firstSequentialPage(bounce: number, group: number, pagesPerGroup: number, pages: number): number {
  const wrap = 1n << 64n;
  let p = (wrap - BigInt(bounce)) % wrap;
  if (!(bounce & BOUNCE.racing)) p = (p + BigInt(group * pagesPerGroup)) % wrap;
  p = (p + 1n) % wrap;
  return Number(p % BigInt(pages));
}

/**
 * Every page must be itself (its tag: page number and this run's seed) and
 * hold the counter the verification array expects; the first page that is
 * not, or undefined.
 */
export function verifyPages(addr: number, pages: number, pageSize: number, verify: Float64Array): string | undefined {
  const words = new Uint32Array(toArrayBufferAt(addr, pages * pageSize));
  const stride = pageSize >>> 2;
  const cw = COUNT_OFFSET >>> 2;
  const tw = TAG_OFFSET >>> 2;
  let bad = 0;
  let first = "";
  for (let p = 0; p < pages; p++) {
    const w = p * stride;
    const count = words[w + cw + 1]! * 4294967296 + words[w + cw]!;
    const other = wrongPage(p, words[w + tw]!, words[w + tw + 1]!, RUN_SEED);
    if (other !== undefined || count !== verify[p]) {
      if (bad === 0) first = other ?? `page ${p} counter ${count}, expected ${verify[p]}`;
      bad++;
    }
  }
  return bad === 0 ? undefined : `${first}${bad > 1 ? ` (${bad} pages wrong)` : ""}`;
}
