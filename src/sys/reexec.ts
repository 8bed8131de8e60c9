// Start this very process again (same pid, same argv) with variables added to
// its environment: execve of /proc/self/exe with /proc/self/cmdline. Used for
// options the Bun runtime reads only at start-up (BUN_JSC_*).
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";

/** NUL-terminated strings and the NULL-terminated pointer array execve wants (keep the result alive until the call). */
function cStrings(items: readonly string[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = items.map((s) => Buffer.from(`${s}\0`));
  const array = new BigUint64Array(new ArrayBuffer((items.length + 1) * 8));
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep };
}

/**
 * Unless every variable of `extra` is set already, replace this process by a
 * fresh start of the same program with them added. Returns only when nothing
 * was needed, or when execve failed (then the run goes on as it is).
 */
export function reexecWithEnv(extra: Readonly<Record<string, string>>): void {
  if (Object.keys(extra).every((k) => process.env[k] !== undefined)) return;
  const argv = readFileSync("/proc/self/cmdline", "latin1").split("\0");
  if (argv.at(-1) === "") argv.pop();
  const env = Object.entries({ ...process.env, ...extra }).map(([k, v]) => `${k}=${v ?? ""}`);
  const a = cStrings(argv);
  const e = cStrings(env);
  const path = Buffer.from("/proc/self/exe\0");
  const libc = dlopen("libc.so.6", { execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
  try {
    libc.symbols.execve(path, a.array, e.array);
  } finally {
    libc.close();
  }
  void a.keep;
  void e.keep;
}
