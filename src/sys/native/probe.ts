// probeSigbus: touch an address from this thread and say whether it raised
// SIGBUS, surviving the signal (probe.c installs a handler around the touch
// and puts Bun's back afterwards).
import type { Pointer } from "bun:ffi";
import probeSource from "./probe.c" with { type: "text" };
import { lastErrno, SysError } from "../errno.ts";
import { loadNative } from "./load.ts";

const unit = loadNative("probe", probeSource, {
  native_probe_sigbus: { args: ["ptr", "i32"], returns: "i32" },
});

/**
 * Touch one byte at `addr` (read, or with `write` read and store it back
 * unchanged) and report whether that raised SIGBUS.
 *
 * Only for addresses where the touch cannot block forever: memory past the
 * end of a file, a poisoned page, a userfaultfd range with the SIGBUS
 * feature, or a range a live handler (another thread) serves. Any other
 * signal (SIGSEGV on an unmapped address) is not caught and kills the process.
 * One thread at a time: the handler is per process.
 */
export function probeSigbus(addr: number, opts: { write?: boolean } = {}): boolean {
  const r = unit().symbols.native_probe_sigbus(addr as Pointer, opts.write ? 1 : 0);
  if (r < 0) throw new SysError("sigaction", lastErrno(), "SIGBUS probe");
  return r === 1;
}
