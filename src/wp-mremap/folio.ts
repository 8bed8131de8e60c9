// One folio of a given size and kind, populated with non-zero data: a base
// page, a THP (anon private, or shmem shared) or a hugetlb page.
import { bytesAt, hugetlbMapFlags, MAP, mmap, munmap, PAGE_SIZE, PROT } from "../sys/mem.ts";
import { PAGEMAP, type Pagemap } from "../sys/native/pagemap.ts";
import { Changes, setKnob } from "../machine/changes.ts";
import { thpKnob } from "../machine/sizes.ts";

export interface FolioSpec {
  readonly size: number;
  readonly private: boolean;
  readonly hugetlb: boolean;
}

/** `size` bytes aligned to `size`: map twice as much and trim both ends. */
export function mmapAligned(size: number, prot: number, flags: number): number {
  const raw = mmap(size * 2, { prot, flags });
  const mem = Math.ceil(raw / size) * size;
  if (mem > raw) munmap(raw, mem - raw);
  const tail = raw + size * 2 - (mem + size);
  if (tail > 0) munmap(mem + size, tail);
  return mem;
}

export type Allocated = { readonly ok: true; readonly addr: number } | { readonly ok: false; readonly why: string };

/**
 * Allocate and populate one folio. For a THP, that size is switched on
 * (shmem_enabled for shared, enabled for private) only around the
 * allocation. Fails when the first write does not populate every page.
 */
export function allocOneFolio(spec: FolioSpec, pm: Pagemap): Allocated {
  const thp = !spec.hugetlb && spec.size > PAGE_SIZE;
  const prot = PROT.READ | PROT.WRITE;
  let flags = MAP.ANONYMOUS | (spec.private ? MAP.PRIVATE : MAP.SHARED);
  const scope = thp ? new Changes() : undefined;
  let mem = 0;
  try {
    if (thp) {
      scope!.add(setKnob(thpKnob(spec.size, spec.private ? "enabled" : "shmem_enabled"), "always"));
      mem = mmapAligned(spec.size, prot, flags);
    } else {
      if (spec.hugetlb) flags |= hugetlbMapFlags(spec.size);
      mem = mmap(spec.size, { prot, flags });
    }
    if (mem % spec.size !== 0) {
      munmap(mem, spec.size);
      return { ok: false, why: `mapping at 0x${mem.toString(16)} is not aligned to ${spec.size}` };
    }
    // Populate with the first byte; every page of the folio must then be there.
    const bytes = bytesAt(mem, spec.size);
    bytes[0] = 1;
    const entries = pm.range(mem, spec.size);
    const hole = entries.findIndex((e) => (e & (PAGEMAP.PRESENT | PAGEMAP.SWAPPED)) === 0n);
    if (hole >= 0) {
      munmap(mem, spec.size);
      return { ok: false, why: `page ${hole} of the folio not populated by the first write (no ${spec.size}-byte folio)` };
    }
    // Non-zero data, so the kernel cannot map the zero page back.
    bytes.fill(1);
    return { ok: true, addr: mem };
  } catch (e) {
    if (mem !== 0) munmap(mem, spec.size);
    return { ok: false, why: (e as Error).message };
  } finally {
    scope?.dispose();
  }
}
