// Long-term page pins through debugfs gup_test (CONFIG_GUP_TEST), as the C
// wp-fork-pin tests take them: PIN_LONGTERM_TEST_START / _STOP.
import { existsSync } from "node:fs";
import { lastErrno, SysError } from "./errno.ts";
import { close, O, tryOpen } from "./fd.ts";
import { libc } from "./libc.ts";
import { Scratch } from "./mem.ts";

export const GUP_TEST_PATH = "/sys/kernel/debug/gup_test";

/** mm/gup_test.h: _IOW('g', 7, struct pin_longterm_test) and _IO('g', 8). */
export const PIN_LONGTERM_TEST = { START: 0x40186707, STOP: 0x6708 } as const;

export function gupTestPresent(): boolean {
  return existsSync(GUP_TEST_PATH);
}

/** A read-only long-term pin of a range; unpin() (or dispose) releases it. */
export class LongtermPin implements Disposable {
  readonly #fd: number;
  #pinned = true;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Pin [addr, addr+len); returns -errno where gup_test is missing or refuses. */
  static pin(addr: number, len: number): LongtermPin | number {
    const fd = tryOpen(GUP_TEST_PATH, O.RDWR | O.CLOEXEC);
    if (fd < 0) return fd;
    const arg = new Scratch(24);
    try {
      arg.view.setBigUint64(0, BigInt(addr), true);
      arg.view.setBigUint64(8, BigInt(len), true);
      arg.view.setUint32(16, 0, true); // flags: read-only pin
      if (libc.ioctl(fd, PIN_LONGTERM_TEST.START, arg.addr) !== 0) {
        const err = lastErrno();
        libc.close(fd);
        return -err;
      }
      return new LongtermPin(fd);
    } finally {
      arg.dispose();
    }
  }

  unpin(): void {
    if (!this.#pinned) return;
    this.#pinned = false;
    const rc = libc.ioctl(this.#fd, PIN_LONGTERM_TEST.STOP, 0);
    const err = rc !== 0 ? lastErrno() : 0;
    close(this.#fd);
    if (rc !== 0) throw new SysError("ioctl", err, "PIN_LONGTERM_TEST_STOP");
  }

  [Symbol.dispose](): void {
    this.unpin();
  }
}
