// /proc/<pid>/pagemap entries: bits and an in-process reader (one entry, or
// a whole range in one read: a 1 GiB folio is 262,144 entries).
import { Errno, lastErrno, SysError } from "../errno.ts";
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
    present: has(PAGEMAP.PRESENT),
    swapped: has(PAGEMAP.SWAPPED),
    file: has(PAGEMAP.FILE),
    uffdWp: has(PAGEMAP.UFFD_WP),
    exclusive: has(PAGEMAP.EXCLUSIVE),
    softDirty: has(PAGEMAP.SOFT_DIRTY),
  };
}

/** This process's pagemap, opened once; read entries with entry(addr) or range(addr, len). */
export class Pagemap {
  readonly fd: number;
  readonly #one = new BigUint64Array(new ArrayBuffer(8));

  constructor() {
    this.fd = open("/proc/self/pagemap", O.RDONLY | O.CLOEXEC);
  }

  entry(addr: number): bigint {
    this.#read(this.#one, Math.floor(addr / PAGE_SIZE));
    return this.#one[0]!;
  }

  /** The entries of every page that [addr, addr+len) touches. */
  range(addr: number, len: number): BigUint64Array {
    const first = Math.floor(addr / PAGE_SIZE);
    const out = new BigUint64Array(new ArrayBuffer((Math.ceil((addr + len) / PAGE_SIZE) - first) * 8));
    this.#read(out, first);
    return out;
  }

  /** Fill `into` with the entries from page number `first` on (the one read loop: EINTR retried, short reads continued). */
  #read(into: BigUint64Array, first: number): void {
    const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const r = libc.pread(this.fd, bytes.subarray(done), bytes.length - done, first * 8 + done);
      if (r < 0) {
        const errno = lastErrno();
        if (errno === Errno.EINTR) continue;
        throw new SysError("pread", errno, "/proc/self/pagemap");
      }
      if (r === 0) throw new SysError("pread", Errno.EIO, `short /proc/self/pagemap read (${done} of ${bytes.length} bytes)`);
      done += r;
    }
  }

  close(): void {
    close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
