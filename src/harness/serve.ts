// The fault-handling loop of a handler Worker (the C suite's poll thread).
// Hot path: no allocation, no BigInt; read first, poll only when nothing is queued.
import { Errno, lastErrno, SysError } from "../sys/errno.ts";
import { POLL } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";
import { PAGE_SIZE, Scratch, toArrayBufferAt } from "../sys/mem.ts";
import { CONTINUE_MODE, COPY_MODE, EVENT, MOVE_MODE, PAGEFAULT_FLAG } from "../uffd/constants.ts";
import type { UffdEvent } from "../uffd/events.ts";
import { Uffd } from "../uffd/uffd.ts";
import { COUNTER, SLOT } from "./counters.ts";
import type { ServeJob, ServeResult } from "./protocol.ts";

export class HandlerError extends Error {
  override readonly name = "HandlerError";
}

function fail(what: string): never {
  throw new HandlerError(what);
}

function hex(addr: number): string {
  return `0x${addr.toString(16)}`;
}

/** Serve `job` until stopped. Throws on the first thing that is wrong. */
export function serve(job: ServeJob): ServeResult {
  const handler = new FaultHandler(job);
  try {
    while (handler.step());
    return handler.result();
  } finally {
    handler.dispose();
  }
}

// pollfd[0] is the uffd, pollfd[1] the stop pipe: { int fd; short events; short revents; }.
const UFFD_EVENTS = 4;
const UFFD_REVENTS = 6;
const STOP_FD = 8;
const STOP_EVENTS = 12;
const STOP_REVENTS = 14;

/** Where the page holding byte `at` starts (`at` relative to a page-aligned base). */
function pageStart(at: number, pageSize: number): number {
  return at - (at % pageSize);
}

/**
 * The span of the ranges REMOVE events made a handler unregister (empty
 * until the first). A resolve in it that gives ENOENT is a fault read after
 * its range was unregistered: see FaultHandler.#wokeAfterRemove.
 */
export class RemovedSpan {
  #start = 0;
  #end = 0;

  add(start: number, end: number): void {
    this.#start = this.#end === 0 ? start : Math.min(this.#start, start);
    this.#end = Math.max(this.#end, end);
  }

  /** True when a resolve at `addr` gave `rc` because a REMOVE unregistered it. */
  explains(rc: number, addr: number): boolean {
    return rc === -Errno.ENOENT && addr >= this.#start && addr < this.#end;
  }
}

/** One handler's state; each step of the loop is a small method. */
class FaultHandler {
  readonly #job: ServeJob;
  readonly #counters: Int32Array;
  readonly #base: number;
  readonly #ps: number;
  /** The job's own uffd (the test's fd: never closed here). */
  readonly #first: Uffd;
  #uffd: Uffd;
  /** Child uffds adopted on fork events: ours to close. */
  readonly #adopted: Uffd[] = [];
  #following: Uffd | undefined;
  readonly #poll = new Scratch(4096);
  #dst: number;
  /** Minor faults: the bytes are flipped through `dst` (unregistered in minor tests). */
  readonly #words: Int32Array | undefined;
  readonly #copyMode: number;
  readonly #contMode: number;
  readonly #moveChunk: number;
  /** Minor faults: flip the bytes and check a repeat CONTINUE (ServeJob.minorCheck). */
  readonly #minorCheck: boolean;
  /** Test only: copy from the next source page (see ServeJob.wrongPage). */
  readonly #srcShift: number;
  readonly #stopStart: number;
  readonly #stopEnd: number;
  readonly #removed = new RemovedSpan();
  #faults = 0;
  #running = true;

  constructor(job: ServeJob) {
    this.#job = job;
    this.#counters = new Int32Array(job.counters);
    this.#base = job.slot * SLOT;
    this.#ps = job.pageSize;
    this.#first = Uffd.adopt(job.uffdFd);
    this.#uffd = this.#first;
    this.#dst = job.dst;
    this.#words = job.strategy === "copy" ? new Int32Array(toArrayBufferAt(job.dst, job.size)) : undefined;
    this.#copyMode = job.applyWp ? COPY_MODE.WP : 0;
    this.#contMode = job.applyWp ? CONTINUE_MODE.WP : 0;
    this.#moveChunk = job.moveChunk ?? job.pageSize;
    this.#minorCheck = job.minorCheck !== false;
    this.#srcShift = job.wrongPage ? job.pageSize : 0;
    this.#stopStart = job.stopPages?.start ?? 0;
    this.#stopEnd = this.#stopStart + (job.stopPages?.len ?? 0);
    // Blocking-read handlers have no stop pipe (-1: poll leaves it out).
    const pv = this.#poll.view;
    pv.setInt16(UFFD_EVENTS, POLL.IN, true);
    pv.setInt32(STOP_FD, job.stopFd, true);
    pv.setInt16(STOP_EVENTS, POLL.IN, true);
    this.#watch(this.#first);
  }

  /** One round: handle what one read brings, or wait for more. False once stopped. */
  step(): boolean {
    const n = this.#uffd.readRaw();
    if (n === 0) return this.#wait();
    for (let i = 0; i < n; i++) this.#message(i);
    if (this.#following) this.#switchTo(this.#following);
    return this.#running;
  }

  result(): ServeResult {
    return { faults: this.#faults, adopted: this.#adopted.length };
  }

  /** The job's own fd belongs to the test; fds adopted from fork events are ours. */
  dispose(): void {
    for (const u of this.#adopted) u.close();
    this.#first.dispose({ closeFd: false });
    this.#poll.dispose();
  }

  #watch(u: Uffd): void {
    this.#poll.view.setInt32(0, u.fd, true);
  }

  /** After a fork event's batch: its remaining messages belonged to the old fd. */
  #switchTo(u: Uffd): void {
    this.#uffd = u;
    this.#following = undefined;
    this.#watch(u);
  }

  /**
   * Nothing queued (a non-blocking read found none, or a blocking read was
   * interrupted): poll the uffd and the stop pipe. False when the stop pipe
   * says stop.
   */
  #wait(): boolean {
    if (libc.poll(this.#poll.addr, 2, -1) < 0) {
      const err = lastErrno();
      if (err !== Errno.EINTR && err !== Errno.EAGAIN) throw new SysError("poll", err);
      return true;
    }
    const pv = this.#poll.view;
    const stopRev = pv.getInt16(STOP_REVENTS, true);
    if (stopRev !== 0) {
      if (!(stopRev & POLL.IN)) fail(`stop pipe revents ${stopRev}`);
      return false;
    }
    // A uffd gives POLLERR only before its handshake, and a closed one fails the read first.
    const rev = pv.getInt16(UFFD_REVENTS, true);
    if (rev & (POLL.ERR | POLL.NVAL)) fail(`uffd poll revents ${rev}`);
    return true;
  }

  #message(i: number): void {
    const u = this.#uffd;
    if (u.msgEvent(i) !== EVENT.PAGEFAULT) return this.#event(u.eventAt(i));
    const addr = u.msgAddress(i);
    if (addr >= this.#stopStart && addr < this.#stopEnd) return this.#stopFault(addr);
    this.#faults++;
    const flags = u.msgFlags(i);
    if (flags & PAGEFAULT_FLAG.WP) this.#unprotect(addr);
    else if (flags & PAGEFAULT_FLAG.MINOR) this.#minor(addr);
    else this.#missing(addr, flags);
  }

  /** A fault on a stop page: map it (or wake it, when another handler did) and stop after this batch. */
  #stopFault(addr: number): void {
    const page = pageStart(addr, PAGE_SIZE);
    if (this.#uffd.tryZeropage(page, PAGE_SIZE) < 0) this.#uffd.tryWake(page, PAGE_SIZE);
    this.#running = false;
  }

  #count(counter: number): void {
    this.#counters[this.#base + counter]!++;
  }

  #unprotect(addr: number): void {
    const page = pageStart(addr, this.#ps);
    const rc = this.#uffd.tryWriteProtect(page, this.#ps, 0);
    if (rc < 0) return this.#notResolved("UFFDIO_WRITEPROTECT", rc, page, this.#ps);
    this.#count(COUNTER.wp);
  }

  #missing(addr: number, flags: number): void {
    const job = this.#job;
    if (job.forbidWriteMissing && flags & PAGEFAULT_FLAG.WRITE) {
      fail(`unexpected write fault at ${hex(addr)} (a first touch must be a read)`);
    }
    const off = addr - this.#dst;
    if (off < 0 || off >= job.size) fail(`fault at ${hex(addr)} outside the destination`);
    if (job.strategy === "move") return this.#move(off - (off % this.#moveChunk));
    const page = pageStart(off, this.#ps);
    if (job.strategy === "copy") this.#copy(page, this.#copyMode);
    else if (job.strategy === "zeropage") this.#zeropage(page);
    else this.#poison(page);
  }

  /*
   * A resolve's rc is 0 only when it did the whole range: for less the
   * kernel answers -EAGAIN (with the bytes done in lastResult).
   */

  #copy(off: number, mode: number): void {
    const from = this.#job.src + ((off + this.#srcShift) % this.#job.size);
    const rc = this.#uffd.tryCopy(this.#dst + off, from, this.#ps, mode);
    if (rc < 0) return this.#notResolved("UFFDIO_COPY", rc, this.#dst + off, this.#ps);
    this.#count(COUNTER.missing);
  }

  #zeropage(off: number): void {
    const rc = this.#uffd.tryZeropage(this.#dst + off, this.#ps);
    if (rc < 0) return this.#notResolved("UFFDIO_ZEROPAGE", rc, this.#dst + off, this.#ps);
    this.#count(COUNTER.missing);
  }

  #move(off: number): void {
    const chunk = this.#moveChunk;
    const rc = this.#uffd.tryMove(this.#dst + off, this.#job.src + off, chunk, MOVE_MODE.ALLOW_SRC_HOLES);
    if (rc < 0) return this.#notResolved("UFFDIO_MOVE", rc, this.#dst + off, chunk);
    this.#count(COUNTER.missing);
  }

  /** The C poison test: odd pages get a copy of the source page (the test zeroes the source), even pages are poisoned. */
  #poison(off: number): void {
    if ((off / this.#ps) % 2 === 1) return this.#copy(off, 0);
    const rc = this.#uffd.tryPoison(this.#dst + off, this.#ps);
    if (rc < 0) return this.#notResolved("UFFDIO_POISON", rc, this.#dst + off, this.#ps);
    this.#count(COUNTER.missing);
  }

  /**
   * A resolve of [start, start + len) that failed. EEXIST: someone else
   * mapped the page first; wake the waiter. A range a REMOVE unregistered:
   * see wokeAfterRemove. Anything else ends the handler.
   */
  #notResolved(call: string, rc: number, start: number, len: number): void {
    if (this.#wokeAfterRemove(rc, start, len)) return;
    if (rc !== -Errno.EEXIST) {
      throw new SysError(call, -rc, `dst offset ${start - this.#dst}, result ${this.#uffd.lastResult}`);
    }
    this.#wake(start, len);
  }

  #wake(start: number, len: number): void {
    const woke = this.#uffd.tryWake(start, len);
    if (woke < 0) throw new SysError("UFFDIO_WAKE", -woke, `${hex(start)} + ${len}`);
  }

  /**
   * A fault read after a REMOVE event made this handler unregister its
   * range: the resolve gives ENOENT. UFFDIO_UNREGISTER is meant to wake the
   * waiters in the range, but on 6.18 a fault racing with it (probably one
   * taken under the per-VMA lock, which the unregister's mmap write lock
   * does not hold off) can still be asleep in handle_userfault afterwards,
   * with nobody left to wake it (the events child hung there; with this
   * wake, 6 of 20 runs on two loaded vCPUs needed it). So wake it: its
   * retry finds the range unregistered and takes an ordinary fault. True
   * when that was the case (counted; the events cases print it).
   */
  #wokeAfterRemove(rc: number, start: number, len: number): boolean {
    if (!this.#removed.explains(rc, start)) return false;
    this.#wake(start, len);
    this.#countEvent(COUNTER.wokenAfterRemove);
    return true;
  }

  #minor(addr: number): void {
    const words = this.#words;
    if (!words) fail(`minor fault at ${hex(addr)} with strategy ${this.#job.strategy}`);
    const off = addr - this.#job.dstAlias;
    if (off < 0 || off >= this.#job.size) fail(`minor fault at ${hex(addr)} outside the alias view`);
    const page = pageStart(off, this.#ps);
    if (this.#minorCheck) {
      // Prove the handler can change the page: flip every byte through the other view.
      for (let i = page >> 2, end = (page + this.#ps) >> 2; i < end; i++) words[i] = ~words[i]!;
    }
    this.#continue(page);
    // A second CONTINUE on the same page must fail with EEXIST (and not BUG the kernel).
    // The bench leaves it out (minorCheck false: one CONTINUE, like its C reference).
    if (this.#minorCheck) {
      const again = this.#uffd.tryContinue(this.#job.dstAlias + page, this.#ps, this.#contMode);
      if (again !== -Errno.EEXIST) fail(`second UFFDIO_CONTINUE gave ${again} (mapped ${this.#uffd.lastResult}); expected -EEXIST`);
    }
    this.#count(COUNTER.minor);
  }

  #continue(off: number): void {
    const start = this.#job.dstAlias + off;
    const rc = this.#uffd.tryContinue(start, this.#ps, this.#contMode);
    if (rc < 0) throw new SysError("UFFDIO_CONTINUE", -rc, `offset ${off}, result ${this.#uffd.lastResult}`);
  }

  #event(ev: UffdEvent): void {
    switch (ev.type) {
      case "fork":
        return this.#forked(ev.uffd);
      case "remove":
        return this.#removedRange(ev.start, ev.end);
      case "remap":
        this.#countEvent(COUNTER.remap);
        this.#dst = ev.to;
        return;
      case "unmap":
        return this.#countEvent(COUNTER.unmap);
      // "pagefault" never comes here (see #message); decodeEvent throws on unknown codes.
    }
  }

  #countEvent(counter: number): void {
    Atomics.add(this.#counters, this.#base + counter, 1);
  }

  #forked(fd: number): void {
    this.#countEvent(COUNTER.fork);
    if (this.#job.onFork === "close") {
      libc.close(fd);
      return;
    }
    // Switch after this batch: its remaining messages sit in the current
    // instance's buffer and belong to the current fd.
    this.#following = Uffd.adopt(fd);
    this.#adopted.push(this.#following);
  }

  /** The range was zapped: unregister it (faults read later in it are woken, see wokeAfterRemove). */
  #removedRange(start: number, end: number): void {
    this.#countEvent(COUNTER.remove);
    this.#uffd.unregister({ start, len: end - start });
    this.#removed.add(start, end);
  }
}
