// The fault-handling loop of a handler Worker (the C suite's poll thread).
// Hot path: no allocation, no BigInt; read first, poll only when nothing is queued.
import { Errno, lastErrno, SysError } from "../sys/errno.ts";
import { POLL } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";
import { PAGE_SIZE, Scratch, toArrayBufferAt } from "../sys/mem.ts";
import { CONTINUE_MODE, COPY_MODE, EVENT, MOVE_MODE, PAGEFAULT_FLAG } from "../uffd/constants.ts";
import { Uffd } from "../uffd/uffd.ts";
import { COUNTER, SLOT } from "./counters.ts";
import type { ServeJob, ServeResult } from "./protocol.ts";

export class HandlerError extends Error {
  override readonly name = "HandlerError";
}

function fail(what: string): never {
  throw new HandlerError(what);
}

/** Serve `job` until stopped. Throws on the first thing that is wrong. */
export function serve(job: ServeJob): ServeResult {
  const counters = new Int32Array(job.counters);
  const base = job.slot * SLOT;
  const ps = job.pageSize;
  const first = Uffd.adopt(job.uffdFd, { features: BigInt(`0x${job.featuresHex}`) });
  let uffd = first;
  const adopted: Uffd[] = [];
  const poll = new Scratch(4096);
  const pv = poll.view;
  let dst = job.dst;
  const dstAlias = job.dstAlias;
  // Minor faults: the bytes are flipped through `dst` (unregistered in minor tests).
  const words = job.strategy === "copy" ? new Int32Array(toArrayBufferAt(job.dst, job.size)) : undefined;
  const copyMode = job.applyWp ? COPY_MODE.WP : 0;
  const contMode = job.applyWp ? CONTINUE_MODE.WP : 0;
  const moveChunk = job.moveChunk ?? ps;
  // Test only: copy from the next source page (see ServeJob.wrongPage).
  const srcShift = job.wrongPage ? ps : 0;
  const srcOf = (off: number) => job.src + (srcShift === 0 ? off : (off + srcShift) % job.size);
  let faults = 0;
  let running = true;
  // The span of the ranges REMOVE events made this handler unregister (empty: 0, 0).
  let removedStart = 0;
  let removedEnd = 0;
  let following: Uffd | undefined;
  const stopStart = job.stopPages?.start ?? 0;
  const stopEnd = job.stopPages ? stopStart + job.stopPages.len : 0;

  const setPoll = (fd: number) => {
    pv.setInt32(0, fd, true);
    pv.setInt16(4, POLL.IN, true);
    pv.setInt32(8, job.stopFd, true);
    pv.setInt16(12, POLL.IN, true);
  };
  setPoll(uffd.fd);

  // A fault read after a REMOVE event made this handler unregister its
  // range: the resolve gives ENOENT. UFFDIO_UNREGISTER is meant to wake the
  // waiters in the range, but on 6.18 a fault racing with it (probably one
  // taken under the per-VMA lock, which the unregister's mmap write lock
  // does not hold off) can still be asleep in handle_userfault afterwards,
  // with nobody left to wake it (the events child hung there; with this
  // wake, 6 of 20 runs on two loaded vCPUs needed it). So wake it: its
  // retry finds the range unregistered and takes an ordinary fault. True
  // when that was the case (counted; the events cases print it).
  const wokeAfterRemove = (rc: number, start: number, len: number): boolean => {
    if (rc !== -Errno.ENOENT || start < removedStart || start >= removedEnd) return false;
    const woke = uffd.tryWake(start, len);
    if (woke < 0) throw new SysError("UFFDIO_WAKE", -woke, "a fault whose range a REMOVE unregistered");
    Atomics.add(counters, base + COUNTER.wokenAfterRemove, 1);
    return true;
  };

  /** A resolve that gave EEXIST: someone else mapped the page first; wake the waiter. */
  const wakeAfterEexist = (start: number, len: number) => {
    const woke = uffd.tryWake(start, len);
    if (woke < 0) throw new SysError("UFFDIO_WAKE", -woke, "after EEXIST");
  };

  const missing = (addr: number, flags: number) => {
    if (job.forbidWriteMissing && flags & PAGEFAULT_FLAG.WRITE) {
      fail(`unexpected write fault at 0x${addr.toString(16)} (a first touch must be a read)`);
    }
    let off = addr - dst;
    if (off < 0 || off >= job.size) fail(`fault at 0x${addr.toString(16)} outside the destination`);
    switch (job.strategy) {
      case "copy": {
        off -= off % ps;
        const rc = uffd.tryCopy(dst + off, srcOf(off), ps, copyMode);
        if (rc < 0) {
          if (wokeAfterRemove(rc, dst + off, ps)) return;
          if (uffd.lastResult !== -Errno.EEXIST) {
            throw new SysError("UFFDIO_COPY", -rc, `dst offset ${off}, result ${uffd.lastResult}`);
          }
          return wakeAfterEexist(dst + off, ps);
        }
        if (uffd.lastResult !== ps) fail(`UFFDIO_COPY copied ${uffd.lastResult} of ${ps} bytes`);
        counters[base + COUNTER.missing]!++;
        return;
      }
      case "zeropage": {
        off -= off % ps;
        const rc = uffd.tryZeropage(dst + off, ps);
        if (rc < 0) {
          if (wokeAfterRemove(rc, dst + off, ps)) return;
          if (uffd.lastResult !== -Errno.EEXIST) throw new SysError("UFFDIO_ZEROPAGE", -rc, `dst offset ${off}`);
          return wakeAfterEexist(dst + off, ps);
        }
        counters[base + COUNTER.missing]!++;
        return;
      }
      case "move": {
        off -= off % moveChunk;
        const rc = uffd.tryMove(dst + off, job.src + off, moveChunk, MOVE_MODE.ALLOW_SRC_HOLES);
        if (rc < 0) {
          if (wokeAfterRemove(rc, dst + off, moveChunk)) return;
          if (uffd.lastResult !== -Errno.EEXIST) {
            throw new SysError("UFFDIO_MOVE", -rc, `dst offset ${off}, result ${uffd.lastResult}`);
          }
          return wakeAfterEexist(dst + off, moveChunk);
        }
        if (uffd.lastResult !== moveChunk) fail(`UFFDIO_MOVE moved ${uffd.lastResult} of ${moveChunk} bytes`);
        counters[base + COUNTER.missing]!++;
        return;
      }
      case "poison": {
        // The C poison test: odd pages get a copy of the source page (the
        // test zeroes the source), even pages are poisoned.
        off -= off % ps;
        if ((off / ps) % 2 === 1) {
          const rc = uffd.tryCopy(dst + off, srcOf(off), ps, 0);
          if (rc < 0) {
            if (uffd.lastResult !== -Errno.EEXIST) {
              throw new SysError("UFFDIO_COPY", -rc, `odd page at offset ${off}, result ${uffd.lastResult}`);
            }
            return wakeAfterEexist(dst + off, ps);
          }
          if (uffd.lastResult !== ps) fail(`UFFDIO_COPY copied ${uffd.lastResult} of ${ps} bytes`);
        } else {
          const rc = uffd.tryPoison(dst + off, ps);
          if (rc < 0) throw new SysError("UFFDIO_POISON", -rc, `offset ${off}, result ${uffd.lastResult}`);
          if (uffd.lastResult !== ps) fail(`UFFDIO_POISON updated ${uffd.lastResult} of ${ps} bytes`);
        }
        counters[base + COUNTER.missing]!++;
        return;
      }
    }
  };

  const minorCheck = job.minorCheck ?? true;
  const minor = (addr: number) => {
    if (!words) fail(`minor fault at 0x${addr.toString(16)} with strategy ${job.strategy}`);
    let off = addr - dstAlias;
    if (off < 0 || off >= job.size) fail(`minor fault at 0x${addr.toString(16)} outside the alias view`);
    off -= off % ps;
    if (!minorCheck) {
      // One CONTINUE and nothing else (the bench: like its C reference).
      const rc = uffd.tryContinue(dstAlias + off, ps, contMode);
      if (rc < 0) throw new SysError("UFFDIO_CONTINUE", -rc, `offset ${off}, result ${uffd.lastResult}`);
      counters[base + COUNTER.minor]!++;
      return;
    }
    // Prove the handler can change the page: flip every byte through the other view.
    for (let i = off >> 2, end = (off + ps) >> 2; i < end; i++) words[i] = ~words[i]!;
    const rc = uffd.tryContinue(dstAlias + off, ps, contMode);
    if (rc < 0) throw new SysError("UFFDIO_CONTINUE", -rc, `offset ${off}, result ${uffd.lastResult}`);
    // A second CONTINUE on the same page must fail with EEXIST (and not BUG the kernel).
    const again = uffd.tryContinue(dstAlias + off, ps, contMode);
    if (again === 0 || uffd.lastResult !== -Errno.EEXIST) {
      fail(`second UFFDIO_CONTINUE gave rc=${again} mapped=${uffd.lastResult}; expected -EEXIST`);
    }
    counters[base + COUNTER.minor]!++;
  };

  const event = (i: number) => {
    const ev = uffd.eventAt(i);
    switch (ev.type) {
      case "fork":
        Atomics.add(counters, base + COUNTER.fork, 1);
        if (job.onFork === "close") {
          libc.close(ev.uffd);
        } else {
          // Switch after this batch: its remaining messages sit in the
          // current instance's buffer and belong to the current fd.
          following = Uffd.adopt(ev.uffd, { features: uffd.enabled.mask });
          adopted.push(following);
        }
        return;
      case "remove":
        Atomics.add(counters, base + COUNTER.remove, 1);
        uffd.unregister({ start: ev.start, len: ev.end - ev.start });
        removedStart = removedEnd === 0 ? ev.start : Math.min(removedStart, ev.start);
        removedEnd = Math.max(removedEnd, ev.end);
        return;
      case "remap":
        Atomics.add(counters, base + COUNTER.remap, 1);
        dst = ev.to;
        return;
      case "unmap":
        Atomics.add(counters, base + COUNTER.unmap, 1);
        return;
      default:
        fail(`unexpected event ${ev.type}`);
    }
  };

  try {
    while (running) {
      const n = uffd.readRaw();
      if (n === 0) {
        if (job.mode === "read") continue; // EINTR on a blocking read
        const r = libc.poll(poll.addr, 2, -1);
        if (r < 0) {
          const err = lastErrno();
          if (err === Errno.EINTR || err === Errno.EAGAIN) continue;
          throw new SysError("poll", err);
        }
        const stopRev = pv.getInt16(14, true);
        if (stopRev !== 0) {
          if (!(stopRev & POLL.IN)) fail(`stop pipe revents ${stopRev}`);
          break;
        }
        const rev = pv.getInt16(6, true);
        if (rev & (POLL.ERR | POLL.NVAL)) fail(`uffd poll revents ${rev}`);
        continue;
      }
      for (let i = 0; i < n; i++) {
        if (uffd.msgEvent(i) !== EVENT.PAGEFAULT) {
          event(i);
          continue;
        }
        faults++;
        const flags = uffd.msgFlags(i);
        const addr = uffd.msgAddress(i);
        if (addr >= stopStart && addr < stopEnd) {
          const page = addr - (addr % PAGE_SIZE);
          if (uffd.tryZeropage(page, PAGE_SIZE) < 0) uffd.tryWake(page, PAGE_SIZE);
          faults--;
          running = false;
          continue;
        }
        if (flags & PAGEFAULT_FLAG.WP) {
          const page = addr - (addr % ps);
          const rc = uffd.tryWriteProtect(page, ps, 0);
          if (rc < 0) {
            if (wokeAfterRemove(rc, page, ps)) continue;
            throw new SysError("UFFDIO_WRITEPROTECT", -rc, "unprotect");
          }
          counters[base + COUNTER.wp]!++;
        } else if (flags & PAGEFAULT_FLAG.MINOR) {
          minor(addr);
        } else {
          missing(addr, flags);
        }
      }
      if (following) {
        uffd = following;
        following = undefined;
        setPoll(uffd.fd);
      }
    }
    return { faults, adopted: adopted.length };
  } finally {
    // The job's own fd belongs to the test; fds adopted from fork events are ours.
    for (const u of adopted) u.close();
    first.dispose({ closeFd: false });
    poll.dispose();
  }
}
