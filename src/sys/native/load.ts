// Run-time C: compile a small header-free C source with bun:ffi's cc()
// (TinyCC inside Bun) and hand back its symbols.
//
// Sources are embedded as text, so they travel inside the compiled binary;
// cc() cannot read the binary's /$bunfs paths, so each compile writes the
// source to a fresh mkdtemp folder under os.tmpdir() and removes it as soon as
// cc() returns (TinyCC keeps nothing from the file). prelude.h is put in front
// of every source: it declares the libc calls and constants the sources use,
// since a test machine may have no /usr/include.
//
// Compiles are lazy and happen once per thread: a Worker has its own module
// instances, so it compiles its own copy the first time it asks.
import { cc, type ConvertFns, type FFIFunction } from "bun:ffi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

function compile<S extends NativeSymbols>(name: string, source: string, symbols: S): NativeUnit<S> {
  const dir = mkdtempSync(join(tmpdir(), "uffd-suite-cc-"));
  try {
    const path = join(dir, `${name}.c`);
    // #line keeps compiler messages pointing at the lines of the source itself.
    writeFileSync(path, `${prelude}\n#line 1 "${name}.c"\n${source}`, { mode: 0o600 });
    const t0 = performance.now();
    let lib: { symbols: ConvertFns<S> };
    try {
      lib = cc({ source: path, symbols });
    } catch (e) {
      throw new NativeCompileError(name, e);
    }
    const compileMs = performance.now() - t0;
    compiledHere.push({ name, compileMs });
    return { name, symbols: lib.symbols, compileMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
