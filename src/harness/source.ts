// The C suite's source page layout: a pthread mutex at offset 0 of every page
// and a 64-bit counter after it (starting at 1), with a non-zero word after
// the counter. `countVerify` mirrors the counters. Beyond the C, every page
// carries a tag after that word: its page number and a per-run seed, so a
// page found at the wrong place says which page it is (`page N holds page
// M's data`) instead of passing as an identical copy.
import { PTHREAD_MUTEX_SIZE } from "../sys/arch.ts";
import { toArrayBufferAt } from "../sys/mem.ts";

export const MUTEX_SIZE = PTHREAD_MUTEX_SIZE[process.arch] ?? 40;
/** Offset of the counter inside a page (the mutex size rounded up to 8). */
export const COUNT_OFFSET = Math.ceil(MUTEX_SIZE / 8) * 8;
/** Offset of the page tag: u32 page number, then u32 seed (after the counter and its non-zero word). */
export const TAG_OFFSET = COUNT_OFFSET + 16;

/** This process's seed for page tags: random, never 0 (a zero page holds no tag). */
export const RUN_SEED = (crypto.getRandomValues(new Uint32Array(1))[0]! | 1) >>> 0;

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
  writePageTags(addr, pages, pageSize);
  return verify;
}

/** Write each page's tag (its number, this run's seed) at TAG_OFFSET, over whatever the page holds. */
export function writePageTags(addr: number, pages: number, pageSize: number): void {
  const view = new DataView(toArrayBufferAt(addr, pages * pageSize));
  for (let p = 0; p < pages; p++) {
    view.setUint32(p * pageSize + TAG_OFFSET, p, true);
    view.setUint32(p * pageSize + TAG_OFFSET + 4, RUN_SEED, true);
  }
}

/**
 * Whose data page `page` holds, from its tag words (u32 page number, u32 seed;
 * read with the page's other words), given the seed the source was written
 * with: undefined when it holds its own, else a description
 * (`page 5 holds page 6's data`, or no source page's data at all).
 */
export function wrongPage(page: number, tagPage: number, tagSeed: number, seed: number): string | undefined {
  if (tagSeed === seed && tagPage === page) return undefined;
  if (tagSeed === seed) return `page ${page} holds page ${tagPage}'s data`;
  return `page ${page} holds no source page's data (tag 0x${hex8(tagSeed)}${hex8(tagPage)}, expected 0x${hex8(seed)}${hex8(page)})`;
}

/** A tag read as one u64 (seed << 32 | page number) where page `page`'s belongs, in words. */
export function tagText(page: number, tag: bigint, seed: number): string {
  return (
    wrongPage(page, Number(tag & 0xffffffffn), Number(tag >> 32n), seed) ?? `page ${page} holds its own data (tag 0x${tag.toString(16)})`
  );
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}
