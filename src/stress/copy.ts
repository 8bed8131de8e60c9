// The background copier of a stress group (the C's background_thread), run
// inside a pooled Worker: COPY the first half of its slice, write-protect the
// whole slice when WP is on, COPY the second half. A page a handler copied
// first gives EEXIST and is woken. When the run's timer asks for it, the next
// successful copy is repeated on purpose (through the alias view where there
// is one) and must give EEXIST. Hot loop: numbers only, no allocation.
import { Errno, lastErrno, SysError } from "../sys/errno.ts";
import { COPY_MODE, WRITEPROTECT_MODE } from "../uffd/constants.ts";
import { Uffd } from "../uffd/uffd.ts";
import { type CopyJob, type CopyResult, CTRL } from "./protocol.ts";

export class CopyCheckError extends Error {
  override readonly name = "CopyCheckError";
}

export function backgroundCopy(job: CopyJob): CopyResult {
  const uffd = Uffd.adopt(job.uffdFd);
  const ctrl = new Int32Array(job.ctrl);
  const ps = job.pageSize;
  const dst = job.dst;
  const src = job.src;
  const alias = job.dstAlias;
  const mode = job.wp ? COPY_MODE.WP : 0;
  const start = job.startPage;
  const end = job.endPage;
  const mid = Math.floor((start + end) / 2);
  let copied = 0;
  let woken = 0;

  try {
    for (let page = start; page < end; page++) {
      if (page === mid && job.wp) {
        // Half the slice is mapped: protect all of it, so the locking loop
        // meets wp faults on the copied half and the second half comes in protected.
        if (uffd.tryWriteProtect(dst + start * ps, (end - start) * ps, WRITEPROTECT_MODE.WP) < 0) {
          throw new SysError("UFFDIO_WRITEPROTECT", lastErrno(), `protect pages ${start}-${end - 1}`);
        }
      }
      if (Atomics.load(ctrl, CTRL.failed) !== 0) break;
      const off = page * ps;
      const rc = uffd.tryCopy(dst + off, src + off, ps, mode);
      if (rc < 0) {
        if (uffd.lastResult !== -Errno.EEXIST) {
          throw new SysError("UFFDIO_COPY", -rc, `background copy of page ${page}, result ${uffd.lastResult}`);
        }
        // A handler was first: wake whoever waits on the page.
        if (uffd.tryWake(dst + off, ps) < 0) throw new SysError("UFFDIO_WAKE", lastErrno(), `page ${page}`);
        woken++;
        continue;
      }
      if (uffd.lastResult !== ps) throw new CopyCheckError(`UFFDIO_COPY copied ${uffd.lastResult} of ${ps} bytes (page ${page})`);
      copied++;
      if (Atomics.load(ctrl, CTRL.eexistDue) === 1 && Atomics.compareExchange(ctrl, CTRL.eexistDue, 1, 0) === 1) {
        // The deliberate repeat: the page is there now, so COPY must refuse with EEXIST.
        const again = uffd.tryCopy(alias + off, src + off, ps, mode);
        if (again === 0) throw new CopyCheckError(`repeated UFFDIO_COPY of page ${page} succeeded; it must give EEXIST`);
        if (uffd.lastResult !== -Errno.EEXIST) {
          throw new CopyCheckError(`repeated UFFDIO_COPY of page ${page} gave ${uffd.lastResult}; it must give -EEXIST`);
        }
        Atomics.add(ctrl, CTRL.eexistDone, 1);
      }
    }
    return { copied, woken };
  } catch (e) {
    Atomics.store(ctrl, CTRL.failed, 1);
    Atomics.store(ctrl, CTRL.stop, 1);
    throw e;
  } finally {
    uffd.dispose({ closeFd: false });
  }
}
