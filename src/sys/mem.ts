// Memory mappings and raw views over addresses. Addresses are plain numbers
// (user addresses fit in 53 bits on x86_64 and aarch64).
import { type Pointer, read, toArrayBuffer } from "bun:ffi";
import { check, lastErrno, SysError } from "./errno.ts";
import { libc } from "./libc.ts";

export const PROT = { NONE: 0, READ: 1, WRITE: 2, EXEC: 4 } as const;
export const MAP = {
  SHARED: 0x01,
  PRIVATE: 0x02,
  FIXED: 0x10,
  ANONYMOUS: 0x20,
  NORESERVE: 0x4000,
  POPULATE: 0x8000,
  HUGETLB: 0x40000,
  FIXED_NOREPLACE: 0x100000,
} as const;
export const MADV = {
  NORMAL: 0,
  DONTNEED: 4,
  REMOVE: 9,
  DONTFORK: 10,
  DOFORK: 11,
  HUGEPAGE: 14,
  NOHUGEPAGE: 15,
  PAGEOUT: 21,
  POPULATE_READ: 22,
  POPULATE_WRITE: 23,
  COLLAPSE: 25,
} as const;
/** mmap flags for a hugetlb mapping of pages of `size` bytes: MAP_HUGETLB with log2(size) from bit 26 (MAP_HUGE_SHIFT). */
export function hugetlbMapFlags(size: number): number {
  return MAP.HUGETLB | (Math.log2(size) << 26);
}
export const MREMAP = { MAYMOVE: 1, FIXED: 2, DONTUNMAP: 4 } as const;
export const MFD = { CLOEXEC: 1, ALLOW_SEALING: 2, HUGETLB: 4 } as const;
export const FALLOC = { KEEP_SIZE: 1, PUNCH_HOLE: 2 } as const;

/** sysconf(_SC_PAGESIZE): glibc's and musl's name number, the same on every architecture. */
const SC_PAGESIZE = 30;

export const PAGE_SIZE: number = libc.sysconf(SC_PAGESIZE);

export interface MmapOptions {
  readonly prot?: number;
  readonly flags?: number;
  readonly fd?: number;
  readonly offset?: number;
  readonly addr?: number;
}

function asAddress(call: string, r: number | bigint, detail: string): number {
  // u64_fast gives a BigInt for MAP_FAILED (2^64-1): anything not a safe number failed.
  if (typeof r === "bigint") throw new SysError(call, lastErrno(), detail);
  return r;
}

export function mmap(len: number, opts: MmapOptions = {}): number {
  const prot = opts.prot ?? PROT.READ | PROT.WRITE;
  const flags = opts.flags ?? MAP.PRIVATE | MAP.ANONYMOUS;
  const r = libc.mmap(opts.addr ?? 0, len, prot, flags, opts.fd ?? -1, opts.offset ?? 0);
  return asAddress("mmap", r, `len=${len}`);
}

export function munmap(addr: number, len: number): void {
  check("munmap", libc.munmap(addr, len));
}

export function mprotect(addr: number, len: number, prot: number): void {
  check("mprotect", libc.mprotect(addr, len, prot));
}

export function madvise(addr: number, len: number, advice: number): void {
  check("madvise", libc.madvise(addr, len, advice), `advice=${advice}`);
}

/** madvise that reports the errno instead of throwing (0 on success). */
export function tryMadvise(addr: number, len: number, advice: number): number {
  return libc.madvise(addr, len, advice) < 0 ? lastErrno() : 0;
}

export function mremap(addr: number, oldLen: number, newLen: number, opts: { flags?: number; to?: number } = {}): number {
  const r = libc.mremap(addr, oldLen, newLen, opts.flags ?? MREMAP.MAYMOVE, opts.to ?? 0);
  return asAddress("mremap", r, `len=${oldLen}->${newLen}`);
}

/** An ArrayBuffer over raw memory (no copy). */
export function toArrayBufferAt(addr: number, len: number): ArrayBuffer {
  return toArrayBuffer(addr as Pointer, 0, len);
}

/** A byte view over raw memory. Touching it from JS faults in this thread. */
export function bytesAt(addr: number, len: number): Uint8Array {
  return new Uint8Array(toArrayBuffer(addr as Pointer, 0, len));
}

export function u64At(addr: number): number {
  return Number(read.u64(addr as Pointer, 0));
}

/** Memory that C may hold a pointer to for as long as it lives: an mmap'ed block. */
export class Scratch {
  readonly addr: number;
  readonly size: number;
  readonly view: DataView;
  readonly bytes: Uint8Array;

  constructor(size = PAGE_SIZE) {
    this.size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    this.addr = mmap(this.size);
    const ab = toArrayBuffer(this.addr as Pointer, 0, this.size);
    this.view = new DataView(ab);
    this.bytes = new Uint8Array(ab);
  }

  dispose(): void {
    munmap(this.addr, this.size);
  }
}
