// Start this very process again (same pid, same argv) with variables added to
// its environment: execve of /proc/self/exe with /proc/self/cmdline. Used on
// arm64 for what the Bun runtime reads or sets up only at start-up: options
// (BUN_JSC_*) and the SVE vector length its threads run with.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";

/** prctl(2) requests and flags for the SVE vector length (<linux/prctl.h>). */
export const PR_SVE = { SET_VL: 50, GET_VL: 51, VL_LEN_MASK: 0xffff, VL_INHERIT: 1 << 17, SET_VL_ONEXEC: 1 << 18 } as const;
/** The shortest SVE vector length, in bytes (128 bits): every SVE machine has it. */
export const SVE_VL_MIN = 16;

function libcCalls() {
  return dlopen("libc.so.6", {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  });
}

/** This thread's SVE vector length in bytes, or undefined where there is no SVE. */
export function sveVectorLength(): number | undefined {
  const libc = libcCalls();
  try {
    const r = libc.symbols.prctl(PR_SVE.GET_VL, 0, 0, 0, 0);
    return r < 0 ? undefined : r & PR_SVE.VL_LEN_MASK;
  } finally {
    libc.close();
  }
}

/**
 * Where SVE runs with vectors longer than the minimum, ask the kernel for
 * the minimum from the next execve on, kept by every process started from
 * there (PR_SVE_VL_INHERIT). Returns true when it did: the caller must start
 * again for it to apply to all threads. Bun 1.4.4 crashes at random on arm64
 * with 512-bit vectors (the Linux default under QEMU's -cpu max) and not with
 * 128-bit ones or without SVE (README, "arm64"); the setting is this
 * process tree's own, nothing on the machine changes.
 */
export function shortenSveOnExec(): boolean {
  const libc = libcCalls();
  try {
    const r = libc.symbols.prctl(PR_SVE.GET_VL, 0, 0, 0, 0);
    if (r < 0 || (r & PR_SVE.VL_LEN_MASK) <= SVE_VL_MIN) return false;
    return libc.symbols.prctl(PR_SVE.SET_VL, SVE_VL_MIN | PR_SVE.VL_INHERIT | PR_SVE.SET_VL_ONEXEC, 0, 0, 0) >= 0;
  } finally {
    libc.close();
  }
}

/** NUL-terminated strings and the NULL-terminated pointer array execve wants (keep the result alive until the call). */
function cStrings(items: readonly string[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = items.map((s) => Buffer.from(`${s}\0`));
  const array = new BigUint64Array(new ArrayBuffer((items.length + 1) * 8));
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep };
}

/**
 * Unless every variable of `extra` is set already (and `opts.always` is not
 * given), replace this process by a fresh start of the same program with
 * them added. Returns only when nothing was needed, or when execve failed
 * (then the run goes on as it is).
 */
export function reexecWithEnv(extra: Readonly<Record<string, string>>, opts: { always?: boolean } = {}): void {
  if (!opts.always && Object.keys(extra).every((k) => process.env[k] !== undefined)) return;
  const argv = readFileSync("/proc/self/cmdline", "latin1").split("\0");
  if (argv.at(-1) === "") argv.pop();
  const env = Object.entries({ ...extra, ...process.env }).map(([k, v]) => `${k}=${v ?? ""}`);
  const a = cStrings(argv);
  const e = cStrings(env);
  const path = Buffer.from("/proc/self/exe\0");
  const libc = libcCalls();
  try {
    libc.symbols.execve(path, a.array, e.array);
  } finally {
    libc.close();
  }
  void a.keep;
  void e.keep;
}
