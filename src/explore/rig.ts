// The real side of one explored sequence: the area (two places to mremap
// between, and the unregistered second view of shared types), the buffers
// COPY and MOVE take pages from, and the userfaultfd. Fresh per sequence;
// dispose() closes and unmaps it all.
import { close, fallocate, ftruncate, memfdCreate } from "../sys/fd.ts";
import { lastErrno } from "../sys/errno.ts";
import { libc } from "../sys/libc.ts";
import { FALLOC, MAP, MFD, mmap, MREMAP, munmap, PROT, toArrayBufferAt } from "../sys/mem.ts";
import { type MemoryType, pmdSize } from "../harness/memory.ts";
import type { FeatureName } from "../uffd/constants.ts";
import { Uffd } from "../uffd/uffd.ts";

export interface RigOptions {
  readonly mem: MemoryType;
  readonly pages: number;
  readonly pageSize: number;
  readonly features: readonly FeatureName[];
}

export class Rig {
  readonly mem: MemoryType;
  readonly pages: number;
  readonly ps: number;
  readonly size: number;
  readonly uffd: Uffd;
  /** The memfd of shared types (-1 for anon). */
  readonly fd: number;
  readonly #reserve: number;
  readonly #reserveLen: number;
  readonly #slots: [number, number];
  #slot = 0;
  /** Whether the other place is still ours to mremap into. */
  canMove = true;
  /** A place someone else took while the area was away from it: never ours to unmap. */
  #lost: number | undefined;
  readonly alias: number;
  /** COPY's source pages (pages + 1, so an off-by-one copy reads a real page). */
  readonly src: number;
  /** MOVE's source pages (anon). */
  readonly moveSrc: number;
  readonly #bufLen: number;

  constructor(o: RigOptions) {
    this.mem = o.mem;
    this.pages = o.pages;
    this.ps = o.pageSize;
    this.size = o.pages * o.pageSize;
    const align = Math.max(pmdSize(), this.ps);
    const stride = this.size + align;
    this.#reserveLen = align + 3 * stride;
    // Made first: it is the one step here that fails for want of permission.
    this.uffd = Uffd.create({ features: o.features });
    this.#bufLen = (o.pages + 1) * this.ps;
    const made: { addr: number; len: number }[] = [];
    const map = (len: number, opts?: Parameters<typeof mmap>[1]) => {
      const addr = mmap(len, opts);
      made.push({ addr, len });
      return addr;
    };
    this.fd = -1;
    try {
      this.#reserve = map(this.#reserveLen, { prot: PROT.NONE, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.NORESERVE });
      const base = Math.ceil(this.#reserve / align) * align;
      this.#slots = [base, base + stride];
      this.alias = base + 2 * stride;
      if (o.mem.fileBacked) {
        this.fd = memfdCreate(`uffd-suite-explore-${o.mem.name}`, MFD.CLOEXEC | (o.mem.hugetlb ? MFD.HUGETLB : 0));
        ftruncate(this.fd, this.size);
        fallocate(this.fd, FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE, 0, this.size);
      }
      this.#mapView(this.#slots[0], 0, this.size);
      if (o.mem.hasAlias) mmap(this.size, { addr: this.alias, flags: MAP.SHARED | MAP.FIXED, fd: this.fd });
      this.src = map(this.#bufLen);
      this.moveSrc = map(this.#bufLen);
    } catch (e) {
      // Nothing of a rig that could not be made stays behind (the views lie inside the reservation).
      for (const m of made) munmap(m.addr, m.len);
      if (this.fd >= 0) close(this.fd);
      this.uffd.close();
      throw e;
    }
  }

  /** The flags the registered view is mapped with. */
  viewFlags(): number {
    const shared = this.mem.fileBacked && (!this.mem.hugetlb || this.mem.shared);
    return (shared ? MAP.SHARED : MAP.PRIVATE) | (this.mem.fileBacked ? 0 : MAP.ANONYMOUS);
  }

  #mapView(at: number, offset: number, len: number): void {
    mmap(len, { addr: at, flags: this.viewFlags() | MAP.FIXED, fd: this.fd, offset });
  }

  get base(): number {
    return this.#slots[this.#slot]!;
  }

  get otherPlace(): number {
    return this.#slots[1 - this.#slot]!;
  }

  page(i: number): number {
    return this.base + i * this.ps;
  }

  /** The area moved to the other place; take back the one it left (PROT_NONE, never replacing). */
  moved(): void {
    const left = this.base;
    this.#slot = 1 - this.#slot;
    const r = libc.mmap(left, this.size, PROT.NONE, MAP.PRIVATE | MAP.ANONYMOUS | MAP.NORESERVE | MAP.FIXED_NOREPLACE, -1, 0);
    if (typeof r === "bigint" || r !== left) {
      this.canMove = false;
      if (typeof r !== "bigint") libc.munmap(r, this.size);
      this.#lost = left;
    }
  }

  /** Write `stamp` into the first word of a buffer page (unregistered memory). */
  stamp(buf: number, i: number, stamp: number): void {
    new Int32Array(toArrayBufferAt(buf + i * this.ps, 4))[0] = stamp;
  }

  /** mremap the area (MAYMOVE|FIXED) from `from` to `to`; 0 or -errno. */
  mremapTo(from: number, to: number): number {
    const r = libc.mremap(from, this.size, this.size, MREMAP.MAYMOVE | MREMAP.FIXED, to);
    return typeof r === "bigint" ? -lastErrno() : 0;
  }

  /** Pages [a, b) replaced by a fresh mapping of the same thing (MAP_FIXED: no gap); 0 or -errno. */
  mapFresh(a: number, b: number): number {
    const r = libc.mmap(this.page(a), (b - a) * this.ps, PROT.READ | PROT.WRITE, this.viewFlags() | MAP.FIXED, this.fd, a * this.ps);
    return typeof r === "bigint" ? -lastErrno() : 0;
  }

  madviseErr(a: number, len: number, advice: number): number {
    return libc.madvise(a, len, advice) < 0 ? -lastErrno() : 0;
  }

  dispose(): void {
    this.uffd.close();
    const end = this.#reserve + this.#reserveLen;
    const lost = this.#lost;
    if (lost === undefined) munmap(this.#reserve, this.#reserveLen);
    else {
      munmap(this.#reserve, lost - this.#reserve);
      munmap(lost + this.size, end - lost - this.size);
    }
    munmap(this.src, this.#bufLen);
    munmap(this.moveSrc, this.#bufLen);
    if (this.fd >= 0) close(this.fd);
  }
}
