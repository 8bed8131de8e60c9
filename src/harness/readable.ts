// Wait, without blocking the JS thread for long, until an fd is readable
// (a userfaultfd with a queued message). Nothing is read.
import { POLL, pollRevents } from "../sys/fd.ts";

/**
 * Resolve true once `fd` is readable, false after `timeoutMs` or as soon as
 * `giveUp()` says there is no point waiting any more.
 */
export async function waitReadable(fd: number, opts: { timeoutMs: number; giveUp?: () => boolean }): Promise<boolean> {
  const end = performance.now() + opts.timeoutMs;
  for (;;) {
    if (pollRevents(fd, POLL.IN, 0) & POLL.IN) return true;
    if (opts.giveUp?.() || performance.now() >= end) return false;
    await Bun.sleep(1);
  }
}
