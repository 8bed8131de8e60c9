// Run-time C: compile a small header-free C source with bun:ffi's cc()
// (TinyCC inside Bun) and hand back its symbols.
//
// Test machines often carry only the C runtime (libc.so.6 and the loader): no
// headers, no compiler, no libc.so or libc.a to link against, sometimes a
// read-only or tiny /tmp. So a unit needs none of them:
// - no #include: prelude.h declares the constants and types the sources use;
// - no library: it is compiled with -nostdlib, and the libc calls it makes go
//   through a table of pointers into the libc this process already has loaded
//   (libc-entries.ts), handed to the unit right after it is compiled;
// - no file: the source goes to TinyCC through a memfd (/proc/self/fd/N).
//   Only where /proc is missing does it fall back to a temp folder, removed as
//   soon as cc() returns.
//
// Compiles are lazy and happen once per thread: a Worker has its own module
// instances, so it compiles its own copy the first time it asks.
import { cc, type ConvertFns, dlopen, FFIType, type FFIFunction, ptr } from "bun:ffi";
import { existsSync, mkdtempSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, memfdCreate } from "../fd.ts";
import { MFD } from "../mem.ts";
import { NATIVE_BIND_SYMBOL, NATIVE_LIBC_ENTRIES, nativeLibcDeclarations } from "./libc-entries.ts";
import prelude from "./prelude.h" with { type: "text" };

export type NativeSymbols = Readonly<Record<string, FFIFunction>>;

export interface NativeUnit<S extends NativeSymbols> {
  readonly name: string;
  readonly symbols: ConvertFns<S>;
  /** Milliseconds cc() took in this thread. */
  readonly compileMs: number;
}

export class NativeCompileError extends Error {
  override readonly name = "NativeCompileError";
  readonly unit: string;
  constructor(unit: string, cause: unknown) {
    super(`cannot compile native helper '${unit}.c': ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.unit = unit;
  }
}

const compiledHere: { name: string; compileMs: number }[] = [];

/** What this thread has compiled so far, and how long each took. */
export function nativeCompileTimes(): readonly { readonly name: string; readonly compileMs: number }[] {
  return compiledHere;
}

/** dlsym, from libc (glibc 2.34+, musl) or else libdl (older glibc). */
function openDlsym(): (name: string) => number {
  const symbols = { dlsym: { args: [FFIType.ptr, FFIType.cstring], returns: FFIType.u64_fast } } as const;
  let last: unknown;
  for (const lib of ["libc.so.6", "libdl.so.2", "libc.so"]) {
    try {
      const { dlsym } = dlopen(lib, symbols).symbols;
      // RTLD_DEFAULT (a null handle): the libc every module of this process already uses.
      return (name) => Number(dlsym(null, Buffer.from(`${name}\0`)));
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`cannot find dlsym (${last instanceof Error ? last.message : String(last)})`);
}

let libcTable: BigUint64Array | undefined;

/** The table of libc entry points every unit of this thread is bound to (kept alive for good: C holds its address). */
function nativeLibcTable(): BigUint64Array {
  if (libcTable) return libcTable;
  const dlsym = openDlsym();
  // Backed by a real ArrayBuffer: the engine never moves its bytes (a small inline array it may).
  const table = new BigUint64Array(new ArrayBuffer(NATIVE_LIBC_ENTRIES.length * 8));
  const missing: string[] = [];
  NATIVE_LIBC_ENTRIES.forEach(([name], i) => {
    const addr = dlsym(name);
    if (addr === 0) missing.push(name);
    table[i] = BigInt(addr);
  });
  if (missing.length > 0) throw new Error(`the C library lacks ${missing.join(", ")}`);
  libcTable = table;
  return table;
}

/** The whole text TinyCC compiles: libc table, prelude, then the source (messages keep its own line numbers). */
function nativeSourceText(name: string, source: string): string {
  return `${nativeLibcDeclarations()}${prelude}\n#line 1 "${name}.c"\n${source}`;
}

/** Run `compile` on a path holding `text`: a memfd's /proc path, else a temp file removed right after. */
function withSourcePath<T>(name: string, text: string, compile: (path: string) => T): T {
  const fd = memfdCreate(`uffd-suite-${name}.c`, MFD.CLOEXEC);
  try {
    writeSync(fd, text);
    const path = `/proc/self/fd/${fd}`;
    if (existsSync(path)) return compile(path);
  } finally {
    close(fd);
  }
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), "uffd-suite-cc-"));
  } catch (e) {
    throw new Error(`no /proc/self/fd for the source, and no temp folder (${(e as Error).message})`);
  }
  try {
    const path = join(dir, `${name}.c`);
    writeFileSync(path, text, { mode: 0o600 });
    return compile(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function compile<S extends NativeSymbols>(name: string, source: string, symbols: S): NativeUnit<S> {
  const t0 = performance.now();
  const withBind = { ...symbols, [NATIVE_BIND_SYMBOL]: { args: [FFIType.ptr], returns: FFIType.void } } as const;
  let lib: { symbols: ConvertFns<typeof withBind> };
  try {
    const table = nativeLibcTable();
    lib = withSourcePath(name, nativeSourceText(name, source), (path) => cc({ source: path, flags: ["-nostdlib"], symbols: withBind }));
    (lib.symbols[NATIVE_BIND_SYMBOL] as unknown as (p: unknown) => void)(ptr(table));
  } catch (e) {
    throw new NativeCompileError(name, e);
  }
  const compileMs = performance.now() - t0;
  compiledHere.push({ name, compileMs });
  return { name, symbols: lib.symbols as unknown as ConvertFns<S>, compileMs };
}

/**
 * Declare a native unit: `name` (used for the temp file and messages), its C
 * source (import it with `with { type: "text" }`) and the symbols to bind.
 * Returns a getter that compiles on first use in the calling thread.
 *
 *   import src from "./native/mine.c" with { type: "text" };
 *   const mine = loadNative("mine", src, { my_fn: { args: ["ptr"], returns: "i32" } });
 *   mine().symbols.my_fn(addr);
 */
export function loadNative<const S extends NativeSymbols>(name: string, source: string, symbols: S): () => NativeUnit<S> {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`native unit name '${name}' must be letters, digits, '-' or '_'`);
  let unit: NativeUnit<S> | undefined;
  return () => (unit ??= compile(name, source, symbols));
}

/** The address of a compiled (or dlopen'ed) function, e.g. to hand to forkChild. */
export function symbolAddress(fn: unknown): number {
  const p = (fn as { ptr?: unknown } | undefined)?.ptr;
  const n = typeof p === "bigint" ? Number(p) : p;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n === 0) {
    throw new Error("not a native function symbol (it has no address)");
  }
  return n;
}
