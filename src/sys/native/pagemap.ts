// /proc/<pid>/pagemap entries: bits and an in-process reader.
import { check, lastErrno, SysError } from "../errno.ts";
import { close, O, open } from "../fd.ts";
import { libc } from "../libc.ts";
import { PAGE_SIZE } from "../mem.ts";

export const PAGEMAP = {
  PRESENT: 1n << 63n,
  SWAPPED: 1n << 62n,
  FILE: 1n << 61n,
  UFFD_WP: 1n << 57n,
  EXCLUSIVE: 1n << 56n,
  SOFT_DIRTY: 1n << 55n,
  PFN_MASK: (1n << 55n) - 1n,
} as const;

export interface PagemapBits {
  readonly present: boolean;
  readonly swapped: boolean;
  readonly file: boolean;
  readonly uffdWp: boolean;
  readonly exclusive: boolean;
  readonly softDirty: boolean;
}

export function decodePagemap(entry: bigint): PagemapBits {
  const has = (bit: bigint) => (entry & bit) !== 0n;
  return {
    present: has(PAGEMAP.PRESENT), swapped: has(PAGEMAP.SWAPPED), file: has(PAGEMAP.FILE),
    uffdWp: has(PAGEMAP.UFFD_WP), exclusive: has(PAGEMAP.EXCLUSIVE), softDirty: has(PAGEMAP.SOFT_DIRTY),
  };
}

/** This process's pagemap, opened once; read entries with entry(addr). */
export class Pagemap {
  readonly fd: number;
  readonly #buf = new BigUint64Array(new ArrayBuffer(8));

  constructor() {
    this.fd = open("/proc/self/pagemap", O.RDONLY | O.CLOEXEC);
  }

  entry(addr: number): bigint {
    for (;;) {
      const n = libc.pread(this.fd, this.#buf, 8, Math.floor(addr / PAGE_SIZE) * 8);
      if (n === 8) return this.#buf[0]!;
      if (n < 0 && lastErrno() === 4 /* EINTR */) continue;
      if (n < 0) check("pread", n, "/proc/self/pagemap");
      throw new SysError("pread", 5 /* EIO */, `short pagemap read (${n} bytes)`);
    }
  }

  close(): void {
    close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
