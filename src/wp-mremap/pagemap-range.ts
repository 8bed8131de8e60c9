// Pagemap entries of a whole range in one read (a 1 GiB folio is 262,144 entries).
import { lastErrno, SysError } from "../sys/errno.ts";
import { libc } from "../sys/libc.ts";
import { PAGE_SIZE } from "../sys/mem.ts";
import type { Pagemap } from "../sys/native/pagemap.ts";

export function pagemapRange(pm: Pagemap, addr: number, len: number): BigUint64Array {
  const n = Math.ceil(len / PAGE_SIZE);
  const out = new BigUint64Array(new ArrayBuffer(n * 8));
  const bytes = new Uint8Array(out.buffer);
  let done = 0;
  while (done < bytes.length) {
    const r = libc.pread(pm.fd, bytes.subarray(done), bytes.length - done, (addr / PAGE_SIZE) * 8 + done);
    if (r < 0) {
      if (lastErrno() === 4 /* EINTR */) continue;
      throw new SysError("pread", lastErrno(), "/proc/self/pagemap");
    }
    if (r === 0) throw new SysError("pread", 5 /* EIO */, "short /proc/self/pagemap read");
    done += r;
  }
  return out;
}
