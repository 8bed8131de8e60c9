// Settings the suite changes on the machine (nr_hugepages, THP knobs) are put
// back through this registry: at the end of their scope, at process exit, and
// on SIGINT/SIGTERM/SIGHUP (a second signal still restores before exiting).
// Once a signal has come, nothing more may be changed: set() refuses.
import { writeFileSync } from "node:fs";
import { claimSettings, type JournalEntry, readSetting, recordSettings, releaseSettings } from "./settings-journal.ts";

/** A change not yet put back; `journal: false` ones are neither locked nor on record. */
interface Pending extends JournalEntry {
  written: string;
  readonly journal: boolean;
}

/** Keep settings.json in step with `pending`; drop the settings lock once nothing journaled is pending. */
function syncJournal(): void {
  const list = [...pending.values()].filter((p) => p.journal);
  recordSettings(list);
  if (list.length === 0) releaseSettings();
}

const pending = new Map<number, Pending>();
let nextId = 1;
let hooked = false;
/** A listener may return a promise: the end of what it stopped (a child reaped). */
type SignalListener = (signal: NodeJS.Signals) => void | Promise<unknown>;
const signalListeners: SignalListener[] = [];
/** The first SIGINT/SIGTERM/SIGHUP received, and how many so far. */
let received: NodeJS.Signals | undefined;
let signalCount = 0;
/** What ends the process after the first signal (else: exit at once). */
let firstSignalExit: ((signal: NodeJS.Signals, stopped: Promise<unknown>) => void) | undefined;

export const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The shell's code for death by `signal`: 128 + its number (130, 143, 129). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 129;
}

/** The first interrupting signal received, or undefined while none has come. */
export function interrupted(): NodeJS.Signals | undefined {
  return received;
}

/** Thrown by work that refuses to start once interrupted. */
export class InterruptedError extends Error {
  override readonly name = "InterruptedError";
}

/** Write every pending original value back. Safe to call more than once. */
export function restoreAll(): string[] {
  const failures: string[] = [];
  for (const [id, p] of [...pending].reverse()) {
    try {
      writeFileSync(p.path, p.original);
      pending.delete(id);
    } catch (e) {
      failures.push(`${p.path}: ${(e as Error).message}`);
    }
  }
  // What failed stays on record (settings.json) for the next run.
  syncJournal();
  return failures;
}

/** Run `fn` when SIGINT/SIGTERM/SIGHUP arrives, before settings are restored and the process exits. */
export function onInterrupt(fn: SignalListener): void {
  signalListeners.push(fn);
  hook();
}

/**
 * Catch SIGINT/SIGTERM/SIGHUP from now on. Each one runs the onInterrupt
 * listeners and restores every setting; then the first one calls `exit`
 * with a promise that settles once what the listeners stopped has ended
 * (`exit` finishes the output and ends the process with signalExitCode()),
 * and any later one exits at once. Without `exit`, the first one exits too.
 */
export function handleSignals(exit?: (signal: NodeJS.Signals, stopped: Promise<unknown>) => void): void {
  firstSignalExit = exit;
  hook();
}

function onSignal(sig: NodeJS.Signals): void {
  signalCount++;
  received ??= sig;
  const stopping: Array<Promise<unknown>> = [];
  for (const fn of signalListeners) {
    try {
      const p = fn(sig);
      if (p) stopping.push(p);
    } catch {
      // keep going: restoring matters more
    }
  }
  const failures = restoreAll();
  if (failures.length > 0) process.stderr.write(`uffd-suite: could not restore ${failures.join("; ")}\n`);
  if (signalCount === 1 && firstSignalExit) {
    try {
      firstSignalExit(sig, Promise.allSettled(stopping));
      return;
    } catch {
      // fall through: exit now
    }
  }
  process.exit(signalExitCode(sig));
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => restoreAll());
  for (const sig of SIGNALS) process.on(sig, () => onSignal(sig));
}

/** A changed sysfs/procfs value that goes back on dispose(). */
export class SettingChange implements Disposable {
  readonly path: string;
  readonly original: string;
  readonly #id: number;

  private constructor(path: string, original: string, written: string, journal: boolean) {
    this.path = path;
    this.original = original;
    this.#id = nextId++;
    pending.set(this.#id, { path, original, written, journal });
    syncJournal();
  }

  /**
   * Write `value` to `path`, remembering what was there (in this process
   * and in settings.json). Throws SettingsBusyError while another
   * uffd-suite run holds machine settings.
   *
   * `journal: false` (test harnesses that prepare the machine for a child
   * run, which then takes the lock itself): restored by this process as
   * usual, but neither locked nor on record for a later run.
   */
  static set(path: string, value: string, opts: { journal?: boolean } = {}): SettingChange {
    if (received) throw new InterruptedError(`interrupted by ${received}: not changing ${path}`);
    hook();
    const journal = opts.journal ?? true;
    if (journal) claimSettings();
    let original: string;
    try {
      original = readSetting(path);
    } catch (e) {
      syncJournal();
      throw e;
    }
    const change = new SettingChange(path, original, value.trim(), journal);
    try {
      writeFileSync(path, value);
      // What the kernel kept (nr_hugepages may be granted in part): what a later run compares with.
      change.#recordWritten(readSetting(path));
    } catch (e) {
      change.dispose();
      throw e;
    }
    return change;
  }

  #recordWritten(now: string): void {
    const p = pending.get(this.#id);
    if (!p || p.written === now) return;
    p.written = now;
    syncJournal();
  }

  dispose(): void {
    const p = pending.get(this.#id);
    if (!p) return;
    writeFileSync(p.path, p.original);
    pending.delete(this.#id);
    syncJournal();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
