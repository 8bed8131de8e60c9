// Settings the suite changes on the machine (nr_hugepages, THP knobs) are put
// back through this registry: at the end of their scope, at process exit, and
// on SIGINT/SIGTERM (a second signal still restores before exiting).
import { readFileSync, writeFileSync } from "node:fs";

interface Pending {
  readonly path: string;
  readonly value: string;
}

const pending = new Map<number, Pending>();
let nextId = 1;
let hooked = false;
const signalListeners: Array<(signal: NodeJS.Signals) => void> = [];

/** Write every pending original value back. Safe to call more than once. */
export function restoreAll(): string[] {
  const failures: string[] = [];
  for (const [id, p] of [...pending].reverse()) {
    try {
      writeFileSync(p.path, p.value);
      pending.delete(id);
    } catch (e) {
      failures.push(`${p.path}: ${(e as Error).message}`);
    }
  }
  return failures;
}

/** Run `fn` when SIGINT/SIGTERM arrives, before settings are restored and the process exits. */
export function onInterrupt(fn: (signal: NodeJS.Signals) => void): void {
  signalListeners.push(fn);
  hook();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => restoreAll());
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      for (const fn of signalListeners) {
        try {
          fn(sig);
        } catch {
          // keep going: restoring matters more
        }
      }
      restoreAll();
      process.exit(sig === "SIGINT" ? 130 : sig === "SIGTERM" ? 143 : 129);
    });
  }
}

/** A changed sysfs/procfs value that goes back on dispose(). */
export class SettingChange implements Disposable {
  readonly path: string;
  readonly original: string;
  readonly #id: number;

  private constructor(path: string, original: string) {
    this.path = path;
    this.original = original;
    this.#id = nextId++;
    pending.set(this.#id, { path, value: original });
  }

  /** Write `value` to `path`, remembering what was there. */
  static set(path: string, value: string): SettingChange {
    hook();
    const original = readFileSync(path, "utf8").trim();
    const change = new SettingChange(path, bracketed(original));
    try {
      writeFileSync(path, value);
    } catch (e) {
      change.dispose();
      throw e;
    }
    return change;
  }

  dispose(): void {
    const p = pending.get(this.#id);
    if (!p) return;
    writeFileSync(p.path, p.value);
    pending.delete(this.#id);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** THP knobs read "always [madvise] never": the value to write back is the bracketed word. */
function bracketed(s: string): string {
  const m = /\[([^\]]+)\]/.exec(s);
  return m ? m[1]! : s;
}
