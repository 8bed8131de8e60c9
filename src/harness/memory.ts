// The five memory types of the C suite, and areas placed without fixed
// addresses: each area reserves one PROT_NONE region and maps its views inside
// it, so neighbouring areas (and an area and its alias) never merge.
import { readFileSync } from "node:fs";
import { SysError } from "../sys/errno.ts";
import { close, fallocate, ftruncate, memfdCreate } from "../sys/fd.ts";
import { FALLOC, MADV, madvise, MAP, MFD, mmap, munmap, PAGE_SIZE, PROT } from "../sys/mem.ts";
import type { FeatureName } from "../uffd/constants.ts";

export const MEMORY_NAMES = ["anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private"] as const;
export type MemoryName = (typeof MEMORY_NAMES)[number];

/**
 * What a memory type offers, and the features each needs beyond the API
 * itself: the rules the C suite's mem_type carries, read by every program
 * (unit cases, stress, bench, explore) instead of re-derived.
 */
export interface MemoryOffers {
  /** Features needed to register it for missing faults. */
  readonly missing: readonly FeatureName[];
  /** Features needed to register it for write-protect faults. */
  readonly wp: readonly FeatureName[];
  /** Features needed for minor faults; undefined: none to take (anon has no page cache; hugetlb-private no second view to fill it from). */
  readonly minor?: readonly FeatureName[];
  /** WP_UNPOPULATED applies (write-protect markers on unpopulated ptes: anonymous memory). */
  readonly wpUnpopulated: boolean;
  /** UFFDIO_ZEROPAGE resolves its missing faults (hugetlbfs has no zero page). */
  readonly zeropage: boolean;
  /** UFFDIO_MOVE can move pages into it (anonymous private memory only; needs MOVE). */
  readonly move: boolean;
}

export interface MemoryType {
  readonly name: MemoryName;
  /** Backed by a memfd (shmem or hugetlbfs), not anonymous memory. */
  readonly fileBacked: boolean;
  readonly hugetlb: boolean;
  readonly shmem: boolean;
  /** The C suite's map_shared: the area is a shared mapping (and has an alias view). */
  readonly shared: boolean;
  /** A second mapping of the same pages (unregistered) exists. */
  readonly hasAlias: boolean;
  /** Feature needed to register this type for missing faults. */
  readonly missingFeature?: FeatureName;
  /** Feature needed to register this type for write-protect (besides PAGEFAULT_FLAG_WP). */
  readonly wpFeature?: FeatureName;
  /** Feature needed for minor faults, where the type supports them. */
  readonly minorFeature?: FeatureName;
  readonly offers: MemoryOffers;
}

type TypeFacts = Omit<MemoryType, "offers">;

/** The offers follow from the facts: one place that says which type offers what. */
function withOffers(t: TypeFacts): MemoryType {
  const need = (f: FeatureName | undefined): FeatureName[] => (f ? [f] : []);
  const offers: MemoryOffers = {
    missing: need(t.missingFeature),
    wp: ["PAGEFAULT_FLAG_WP", ...need(t.wpFeature)],
    ...(t.minorFeature ? { minor: [t.minorFeature] } : {}),
    wpUnpopulated: !t.fileBacked,
    zeropage: !t.hugetlb,
    move: !t.fileBacked,
  };
  return { ...t, offers };
}

export const MEMORY: Readonly<Record<MemoryName, MemoryType>> = {
  anon: withOffers({ name: "anon", fileBacked: false, hugetlb: false, shmem: false, shared: false, hasAlias: false }),
  shmem: withOffers({
    name: "shmem",
    fileBacked: true,
    hugetlb: false,
    shmem: true,
    shared: true,
    hasAlias: true,
    missingFeature: "MISSING_SHMEM",
    wpFeature: "WP_HUGETLBFS_SHMEM",
    minorFeature: "MINOR_SHMEM",
  }),
  // The C allocator maps shmem-private shared too; "private" only changes how wp-fork zaps.
  "shmem-private": withOffers({
    name: "shmem-private",
    fileBacked: true,
    hugetlb: false,
    shmem: true,
    shared: false,
    hasAlias: true,
    missingFeature: "MISSING_SHMEM",
    wpFeature: "WP_HUGETLBFS_SHMEM",
    minorFeature: "MINOR_SHMEM",
  }),
  hugetlb: withOffers({
    name: "hugetlb",
    fileBacked: true,
    hugetlb: true,
    shmem: false,
    shared: true,
    hasAlias: true,
    missingFeature: "MISSING_HUGETLBFS",
    wpFeature: "WP_HUGETLBFS_SHMEM",
    minorFeature: "MINOR_HUGETLBFS",
  }),
  "hugetlb-private": withOffers({
    name: "hugetlb-private",
    fileBacked: true,
    hugetlb: true,
    shmem: false,
    shared: false,
    hasAlias: false,
    missingFeature: "MISSING_HUGETLBFS",
    wpFeature: "WP_HUGETLBFS_SHMEM",
  }),
};

/** What `mem` needs to be registered for `kind` faults (undefined where it has none of that kind). */
export function featuresFor(mem: MemoryType, kind: "missing" | "wp" | "minor"): readonly FeatureName[] | undefined {
  return mem.offers[kind];
}

/** Why `kind` faults cannot be had on `mem` with this kernel (`feature missing: X, Y`), or undefined. */
export function lackingFor(
  mem: MemoryType,
  kind: "missing" | "wp" | "minor",
  kernel: { missing(list: readonly FeatureName[]): FeatureName[] },
): string | undefined {
  const need = featuresFor(mem, kind);
  if (!need) return `${mem.name} has no ${kind} faults`;
  const missing = kernel.missing([...need]);
  return missing.length > 0 ? `feature missing: ${missing.join(", ")}` : undefined;
}

export function memoryType(name: string): MemoryType {
  const t = (MEMORY as Record<string, MemoryType>)[name];
  if (!t) throw new Error(`unknown memory type '${name}' (expected one of ${MEMORY_NAMES.join(", ")})`);
  return t;
}

/** A /proc/meminfo field in kB (undefined where the kernel has none). */
export function meminfoKb(key: string): number | undefined {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) : undefined;
}

/** Default hugetlb page size in bytes (0 where the kernel has none). */
export function defaultHugePageSize(): number {
  return (meminfoKb("Hugepagesize") ?? 0) * 1024;
}

/** PMD size: the THP size for anon and shmem. */
export function pmdSize(): number {
  try {
    return Number(readFileSync("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "utf8").trim());
  } catch {
    return 2 * 1024 * 1024;
  }
}

/** Page size used for areas of this memory type. */
export function pageSizeOf(mem: MemoryType): number {
  return mem.hugetlb ? defaultHugePageSize() : PAGE_SIZE;
}

/**
 * One area of `size` bytes of a memory type: `addr` is the mapping the test
 * uses, `alias` the second view of the same pages (equal to `addr` where the
 * type has none).
 */
/** The madvise that drops a memory type's pages (the C suite's release_pages): MADV_REMOVE for shared file mappings, MADV_DONTNEED otherwise. */
export function releaseAdvice(mem: MemoryType): number {
  return mem.shmem || (mem.hugetlb && mem.shared) ? MADV.REMOVE : MADV.DONTNEED;
}

export class Area {
  readonly mem: MemoryType;
  readonly size: number;
  readonly pageSize: number;
  addr: number;
  alias: number;
  readonly #reserve: number;
  readonly #reserveLen: number;
  /** hugetlb-private only: the memfd, kept for the hole-punch release older kernels need (see release()). */
  readonly #fd: number;
  /**
   * Ranges inside the reservation that a test unmapped (start → length). While
   * a range is a hole, any thread of the process (Bun's allocator, a Worker)
   * may map something of its own there; dispose() must not unmap that.
   */
  readonly #holes = new Map<number, number>();
  #disposed = false;

  private constructor(
    mem: MemoryType,
    size: number,
    pageSize: number,
    addr: number,
    alias: number,
    reserve: number,
    reserveLen: number,
    fd = -1,
  ) {
    this.#fd = fd;
    this.mem = mem;
    this.size = size;
    this.pageSize = pageSize;
    this.addr = addr;
    this.alias = alias;
    this.#reserve = reserve;
    this.#reserveLen = reserveLen;
  }

  /**
   * Allocate an area. `role: "dst"` maps hugetlb with MAP_NORESERVE (the C
   * destination does: its pages come from the fault path, not a reservation).
   */
  static allocate(mem: MemoryType, size: number, opts: { role?: "src" | "dst" } = {}): Area {
    const pageSize = pageSizeOf(mem);
    if (pageSize === 0) throw new Error(`${mem.name}: this kernel has no hugetlb page size`);
    if (size % pageSize !== 0) throw new Error(`${mem.name}: area size ${size} is not a multiple of the page size ${pageSize}`);
    const align = Math.max(pmdSize(), pageSize);
    // [align slack][area][guard align][alias][guard align]
    const reserveLen = align + size + align + (mem.hasAlias ? size + align : 0);
    const reserve = mmap(reserveLen, { prot: PROT.NONE, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.NORESERVE });
    try {
      const base = Math.ceil(reserve / align) * align;
      const rw = PROT.READ | PROT.WRITE;
      if (!mem.fileBacked) {
        const addr = mmap(size, { addr: base, prot: rw, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED });
        return new Area(mem, size, pageSize, addr, addr, reserve, reserveLen);
      }
      const fd = memfdCreate(`uffd-suite-${mem.name}`, MFD.CLOEXEC | (mem.hugetlb ? MFD.HUGETLB : 0));
      const keepFd = mem.hugetlb && !mem.shared;
      try {
        ftruncate(fd, size);
        // Start from a file with no pages in it.
        fallocate(fd, FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE, 0, size);
        const mainShared = !mem.hugetlb || mem.shared; // hugetlb-private is the one private mapping
        // The destination's pages come from the fault path, not a reservation
        // (for both of its views: a shared alias would reserve them again).
        const noReserve = mem.hugetlb && opts.role === "dst" ? MAP.NORESERVE : 0;
        const flags = (mainShared ? MAP.SHARED : MAP.PRIVATE) | MAP.FIXED | noReserve;
        const addr = mmap(size, { addr: base, prot: rw, flags, fd });
        let alias = addr;
        if (mem.hasAlias) {
          alias = mmap(size, { addr: base + size + align, prot: rw, flags: MAP.SHARED | MAP.FIXED | noReserve, fd });
        }
        return new Area(mem, size, pageSize, addr, alias, reserve, reserveLen, keepFd ? fd : -1);
      } catch (e) {
        if (keepFd) close(fd);
        throw e;
      } finally {
        if (!keepFd) close(fd);
      }
    } catch (e) {
      munmap(reserve, reserveLen);
      throw e;
    }
  }

  /** The alias-view address of an address inside the area (itself where there is no alias). */
  aliasOf(addr: number): number {
    return this.alias + (addr - this.addr);
  }

  /**
   * Drop the pages (see releaseAdvice). MADV_DONTNEED on hugetlb came in
   * Linux 5.18; before it the kernel says EINVAL and the pages of a private
   * hugetlb mapping are dropped by punching the hole in its file (which zaps
   * every mapping of the range, private copies too), as the C suite of that
   * era did. Returns how it was done.
   */
  release(): "madvise" | "punch-hole" {
    try {
      madvise(this.addr, this.size, releaseAdvice(this.mem));
      return "madvise";
    } catch (e) {
      if (!(e instanceof SysError && e.code === "EINVAL" && this.#fd >= 0)) throw e;
    }
    fallocate(this.#fd, FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE, 0, this.size);
    return "punch-hole";
  }

  /** munmap [start, start+len) inside the area, remembering the hole (see #holes). */
  unmap(start: number, len: number): void {
    munmap(start, len);
    this.holeAt(start, len);
  }

  /** Note that [start, start+len) was unmapped by other means (a Worker's munmap, a shrinking mremap). */
  holeAt(start: number, len: number): void {
    this.#holes.set(start, len);
  }

  /**
   * Map fresh private anonymous memory into a hole without replacing
   * anything (MAP_FIXED_NOREPLACE). false: another mapping of this process
   * took (part of) the hole meanwhile; it stays a hole of ours, not that mapping.
   */
  refill(start: number, len: number, prot: number = PROT.READ | PROT.WRITE): boolean {
    try {
      mmap(len, { addr: start, prot, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED_NOREPLACE });
    } catch (e) {
      if (e instanceof SysError && e.code === "EEXIST") return false;
      throw e;
    }
    this.#holes.delete(start);
    return true;
  }

  /** The parts of the reservation that are still ours: holes someone else mapped into are left out. */
  #ownedRanges(): { start: number; len: number }[] {
    const foreign = [...this.#holes].filter(([start, len]) => !this.refill(start, len, PROT.NONE)).sort((a, b) => a[0] - b[0]);
    const ranges: { start: number; len: number }[] = [];
    let at = this.#reserve;
    for (const [start, len] of foreign) {
      if (start > at) ranges.push({ start: at, len: start - at });
      at = Math.max(at, start + len);
    }
    const end = this.#reserve + this.#reserveLen;
    if (end > at) ranges.push({ start: at, len: end - at });
    return ranges;
  }

  get pages(): number {
    return this.size / this.pageSize;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#fd >= 0) close(this.#fd);
    // The reservation spans the area, its alias and the guards (less what is no longer ours).
    for (const r of this.#ownedRanges()) munmap(r.start, r.len);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
