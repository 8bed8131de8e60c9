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

let libc: ReturnType<typeof openLibc> | undefined;

/** execve and prctl, opened once (this module runs only at an arm64 start). */
function openLibc() {
  return dlopen("libc.so.6", {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  }).symbols;
}

function calls(): ReturnType<typeof openLibc> {
  libc ??= openLibc();
  return libc;
}

/** This thread's SVE vector length in bytes, or undefined where there is no SVE. */
export function sveVectorLength(): number | undefined {
  const r = calls().prctl(PR_SVE.GET_VL, 0, 0, 0, 0);
  return r < 0 ? undefined : r & PR_SVE.VL_LEN_MASK;
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
  const vl = sveVectorLength();
  if (vl === undefined || vl <= SVE_VL_MIN) return false;
  return calls().prctl(PR_SVE.SET_VL, SVE_VL_MIN | PR_SVE.VL_INHERIT | PR_SVE.SET_VL_ONEXEC, 0, 0, 0) >= 0;
}

/** NUL-terminated strings and the NULL-terminated pointer array execve wants (keep the result alive until the call). */
function cStrings(items: readonly (string | Buffer)[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = items.map((s) => Buffer.concat([typeof s === "string" ? Buffer.from(s) : s, Buffer.alloc(1)]));
  const array = new BigUint64Array(new ArrayBuffer((items.length + 1) * 8));
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep };
}

/** The NUL-terminated pieces of `b` (a last piece without its NUL too). */
export function splitNul(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; ) {
    const end = b.indexOf(0, at);
    out.push(b.subarray(at, end < 0 ? b.length : end));
    at = end < 0 ? b.length : end + 1;
  }
  return out;
}

/**
 * Unless every variable of `extra` is set already (and `opts.always` is not
 * given), replace this process by a fresh start of the same program with
 * them added. Returns only when nothing was needed, or when execve failed
 * (then the run goes on as it is).
 */
export function reexecWithEnv(extra: Readonly<Record<string, string>>, opts: { always?: boolean } = {}): void {
  if (!opts.always && Object.keys(extra).every((k) => process.env[k] !== undefined)) return;
  // The arguments as the bytes they are (a decode and encode would change any that are not UTF-8 text).
  const argv = splitNul(readFileSync("/proc/self/cmdline"));
  const env = Object.entries({ ...extra, ...process.env }).map(([k, v]) => `${k}=${v ?? ""}`);
  const a = cStrings(argv);
  const e = cStrings(env);
  const path = Buffer.from("/proc/self/exe\0");
  calls().execve(path, a.array, e.array);
  void a.keep;
  void e.keep;
}
