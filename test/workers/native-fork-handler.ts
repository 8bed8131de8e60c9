// Test Worker: reads a userfaultfd with EVENT_FORK while the main thread forks.
//   mode "count": on each fork event close the child's uffd (nothing else to do).
//   mode "serve": keep the child's uffd and resolve its missing faults with a
//                 COPY of the page at `src` (memory of this process).
// Counters go to a SharedArrayBuffer; a byte on the stop pipe ends the loop.
import { Errno, lastErrno, SysError } from "../../src/sys/errno.ts";
import { POLL } from "../../src/sys/fd.ts";
import { libc } from "../../src/sys/libc.ts";
import { Uffd } from "../../src/uffd/uffd.ts";
import { SLOT } from "./native-fork-slots.ts";

export interface ForkHandlerInit {
  readonly uffdFd: number;
  readonly stopFd: number;
  readonly counters: SharedArrayBuffer;
  readonly mode: "count" | "serve";
  readonly src?: number;
  readonly pageSize: number;
}

declare const self: Worker;

const MAX_FDS = 64;
const EVENT_FORK = 0x13;
const EVENT_PAGEFAULT = 0x12;

function run(init: ForkHandlerInit): void {
  const c = new Int32Array(init.counters);
  const parent = Uffd.adopt(init.uffdFd);
  const children: Uffd[] = [];
  const pfd = new Int32Array(new ArrayBuffer(MAX_FDS * 8));
  Atomics.store(c, SLOT.READY, 1);
  Atomics.notify(c, SLOT.READY);
  try {
    for (;;) {
      const fds = [init.stopFd, parent.fd, ...children.map((u) => u.fd)];
      fds.forEach((fd, i) => {
        pfd[i * 2] = fd;
        pfd[i * 2 + 1] = POLL.IN;
      });
      const r = libc.poll(pfd, fds.length, -1);
      if (r < 0) {
        const err = lastErrno();
        if (err === Errno.EINTR) continue;
        throw new SysError("poll", err);
      }
      const revents = (i: number) => pfd[i * 2 + 1]! >>> 16;
      if (revents(0) !== 0) return;
      if (revents(1) & POLL.IN) {
        const n = parent.readRaw();
        for (let i = 0; i < n; i++) {
          if (parent.msgEvent(i) !== EVENT_FORK) {
            Atomics.add(c, SLOT.ERRORS, 1);
            continue;
          }
          const ev = parent.eventAt(i);
          if (ev.type !== "fork") continue;
          Atomics.add(c, SLOT.FORKS, 1);
          if (init.mode === "serve" && children.length < MAX_FDS - 2) children.push(Uffd.adopt(ev.uffd));
          else libc.close(ev.uffd);
        }
      }
      for (let k = children.length - 1; k >= 0; k--) {
        const re = revents(k + 2);
        if (re === 0) continue;
        const child = children[k]!;
        if (!(re & POLL.IN)) {
          child.close(); // the fd went bad (POLLERR/POLLNVAL): drop it
          children.splice(k, 1);
          continue;
        }
        const n = child.readRaw();
        for (let i = 0; i < n; i++) {
          if (child.msgEvent(i) !== EVENT_PAGEFAULT || init.src === undefined) {
            Atomics.add(c, SLOT.ERRORS, 1);
            continue;
          }
          const page = Math.floor(child.msgAddress(i) / init.pageSize) * init.pageSize;
          const rc = child.tryCopy(page, init.src, init.pageSize, 0);
          if (rc === 0) Atomics.add(c, SLOT.SERVED, 1);
          else if (rc === -Errno.EEXIST) child.tryWake(page, init.pageSize);
          else Atomics.add(c, SLOT.ERRORS, 1);
        }
      }
    }
  } finally {
    for (const u of children) u.close();
    parent.dispose({ closeFd: false });
  }
}

self.onmessage = (e: MessageEvent<ForkHandlerInit>) => {
  try {
    run(e.data);
    self.postMessage({ ok: true });
  } catch (err) {
    self.postMessage({ ok: false, error: String(err) });
  }
};
