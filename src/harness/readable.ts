// Wait, without blocking the JS thread for long, until an fd is readable
// (a userfaultfd with a queued message). Nothing is read.
import { Errno, lastErrno, SysError } from "../sys/errno.ts";
import { POLL } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";

const pfd = new Int32Array(new ArrayBuffer(8));

/** Is `fd` readable right now? */
export function isReadable(fd: number): boolean {
  for (;;) {
    pfd[0] = fd;
    pfd[1] = POLL.IN;
    const r = libc.poll(pfd, 1, 0);
    if (r >= 0) return r > 0 && ((pfd[1]! >>> 16) & POLL.IN) !== 0;
    const err = lastErrno();
    if (err !== Errno.EINTR) throw new SysError("poll", err);
  }
}

/**
 * Resolve true once `fd` is readable, false after `timeoutMs` or as soon as
 * `giveUp()` says there is no point waiting any more.
 */
export async function waitReadable(fd: number, opts: { timeoutMs: number; giveUp?: () => boolean }): Promise<boolean> {
  const end = performance.now() + opts.timeoutMs;
  for (;;) {
    if (isReadable(fd)) return true;
    if (opts.giveUp?.() || performance.now() >= end) return false;
    await Bun.sleep(1);
  }
}
