// Settings the suite changes on the machine (nr_hugepages, THP knobs) are put
// back through this registry: at the end of their scope, at process exit, and
// on SIGINT/SIGTERM/SIGHUP (signals.ts runs restoreAll; a second signal still
// restores before exiting). Once a signal has come, nothing more may be
// changed: set() refuses. A value
// is set and put back (set); a huge page count gets this run's share added and
// taken off again (add), so runs at once do not undo each other
// (settings-journal.ts keeps both on record and under its lock). Afterwards
// checkSettings() reads each one back against what was found.
import { plantNames } from "../plants.ts";
import { writeFileSync } from "node:fs";
import {
  claimKnobs,
  type JournalEntry,
  othersShare,
  readSetting,
  shareKey,
  recordSettings,
  releaseKnobs,
  withSettingsLock,
} from "./settings-journal.ts";
import { hookSignals, InterruptedError, interrupted, onRestore } from "./signals.ts";

/** A change not yet put back; `journal: false` ones are neither locked nor on record. */
type Pending = { written: string; readonly journal: boolean } & (
  | { readonly path: string; readonly original: string }
  | { readonly path: string; readonly original: string; share: number }
);

const entryOf = (p: Pending): JournalEntry =>
  "share" in p ? { path: p.path, share: p.share } : { path: p.path, original: p.original, written: p.written };

/** Keep the record (runs.json) in step with `pending` (under the lock); drop the knobs lock once no set value is pending. */
function syncJournal(): void {
  const list = [...pending.values()].filter((p) => p.journal);
  recordSettings(list.map(entryOf));
  if (!list.some((p) => !("share" in p))) releaseKnobs();
}

const pending = new Map<number, Pending>();
let nextId = 1;
// Every signal, abortRun() and process exit put every setting back.
onRestore(restoreAll);

/** How long putting a setting back waits for the settings lock (else it stays on record for the next run). */
const RESTORE_WAIT_MS = 30_000;

/** Test-only plant (UFFD_SUITE_PLANT=restore-skip): the first share given back is forgotten, not written. */
let skipRestorePlanted = plantNames().includes("restore-skip");

/** Put one pending change back (under the lock when journaled). */
function putBack(id: number, p: Pending): void {
  if ("share" in p) {
    if (skipRestorePlanted) {
      skipRestorePlanted = false;
      pending.delete(id);
      return;
    }
    const now = Number(readSetting(p.path));
    writeFileSync(p.path, String(Math.max(0, now - p.share)));
  } else {
    writeFileSync(p.path, p.original);
  }
  pending.delete(id);
}

/** Write every pending original value back (take every share off again). Safe to call more than once. */
export function restoreAll(): string[] {
  const failures: string[] = [];
  const each = (list: Array<[number, Pending]>) => {
    for (const [id, p] of list.reverse()) {
      try {
        putBack(id, p);
      } catch (e) {
        failures.push(`${p.path}: ${(e as Error).message}`);
      }
    }
  };
  const all = [...pending];
  each(all.filter(([, p]) => !p.journal));
  const journaled = all.filter(([, p]) => p.journal);
  if (journaled.length === 0) return failures;
  try {
    withSettingsLock(() => {
      each(journaled);
      // What failed stays on record (runs.json) for the next run.
      syncJournal();
    }, RESTORE_WAIT_MS);
  } catch (e) {
    failures.push((e as Error).message);
  }
  return failures;
}

/** What a path held when this process first changed it, and the shares other runs held on it then. */
const found = new Map<string, { readonly value: string; readonly others?: number }>();

/** Shares this process holds on the count at `path`. */
function ownShare(path: string): number {
  const key = shareKey(path);
  let sum = 0;
  for (const p of pending.values()) if ("share" in p && p.journal && shareKey(p.path) === key) sum += p.share;
  return sum;
}

function noteFound(path: string, value: string, share: boolean): void {
  if (found.has(path)) return;
  found.set(path, share ? { value: String(Number(value) - othersShare(path) - ownShare(path)), others: 0 } : { value });
}

export interface SettingMismatch {
  readonly path: string;
  readonly expected: string;
  readonly seen: string;
}

/**
 * Read back every setting this process changed (on record): each must hold
 * what was found there, a shared count that plus the shares of runs still
 * going. Call after restoring; returns what differs.
 */
export function checkSettings(): SettingMismatch[] {
  if (found.size === 0) return [];
  return withSettingsLock(
    () =>
      [...found].flatMap(([path, f]) => {
        let seen: string;
        try {
          seen = readSetting(path);
        } catch (e) {
          seen = `unreadable (${(e as Error).message})`;
        }
        const expected = f.others === undefined ? f.value : String(Number(f.value) + othersShare(path) + ownShare(path));
        return seen === expected ? [] : [{ path, expected, seen }];
      }),
    RESTORE_WAIT_MS,
  );
}

/** A changed sysfs/procfs value that goes back on dispose(). */
export class SettingChange implements Disposable {
  readonly path: string;
  /** What was there before. */
  readonly original: string;
  readonly #id: number;

  private constructor(path: string, original: string, written: string, journal: boolean, share?: number) {
    this.path = path;
    this.original = original;
    this.#id = nextId++;
    pending.set(this.#id, share === undefined ? { path, original, written, journal } : { path, original, written, journal, share });
    if (journal) syncJournal();
  }

  /**
   * Write `value` to `path`, remembering what was there (in this process
   * and in runs.json). Only one run at a time holds such changes:
   * throws SettingsBusyError while another uffd-suite run holds them, and
   * SettingsUnsafeError where no record can be kept.
   *
   * `journal: false` (test harnesses that prepare the machine for a child
   * run, which then takes the lock itself): restored by this process as
   * usual, but neither locked nor on record for a later run.
   */
  static set(path: string, value: string, opts: { journal?: boolean } = {}): SettingChange {
    const received = interrupted();
    if (received) throw new InterruptedError(`interrupted by ${received}: not changing ${path}`);
    hookSignals();
    if (opts.journal === false) return SettingChange.#write(path, value, false);
    claimKnobs();
    try {
      return withSettingsLock(() => SettingChange.#write(path, value, true));
    } finally {
      if (![...pending.values()].some((p) => p.journal && !("share" in p))) releaseKnobs();
    }
  }

  static #write(path: string, value: string, journal: boolean): SettingChange {
    const original = readSetting(path);
    if (journal) noteFound(path, original, false);
    const change = new SettingChange(path, original, value.trim(), journal);
    try {
      writeFileSync(path, value);
      // What the kernel kept: what a later run compares with.
      change.#recordWritten(readSetting(path));
    } catch (e) {
      change.dispose();
      throw e;
    }
    return change;
  }

  /**
   * Add `delta` to the count at `path` (nr_hugepages) as this run's share,
   * on top of whatever is there, read and written under the settings lock;
   * dispose() takes exactly that share off again. `share` is what the
   * kernel granted (maybe less than asked).
   */
  static add(path: string, delta: number): SettingChange {
    const received = interrupted();
    if (received) throw new InterruptedError(`interrupted by ${received}: not changing ${path}`);
    hookSignals();
    return withSettingsLock(() => {
      const before = Number(readSetting(path));
      noteFound(path, String(before), true);
      // On record before the write: a SIGKILL in between still gets it taken off.
      const change = new SettingChange(path, String(before), String(before + delta), true, delta);
      try {
        writeFileSync(path, String(before + delta));
        change.#recordWritten(readSetting(path), before);
      } catch (e) {
        change.dispose();
        throw e;
      }
      return change;
    });
  }

  /** The share this change holds (add()), undefined for a set value. */
  get share(): number | undefined {
    const p = pending.get(this.#id);
    return p && "share" in p ? p.share : undefined;
  }

  #recordWritten(now: string, base?: number): void {
    const p = pending.get(this.#id);
    if (!p) return;
    const share = base === undefined ? undefined : Math.max(0, Number(now) - base);
    if (p.written === now && (share === undefined || !("share" in p) || p.share === share)) return;
    p.written = now;
    if (share !== undefined && "share" in p) p.share = share;
    if (p.journal) syncJournal();
  }

  dispose(): void {
    const p = pending.get(this.#id);
    if (!p) return;
    if (!p.journal) {
      putBack(this.#id, p);
      return;
    }
    withSettingsLock(() => {
      try {
        putBack(this.#id, p);
      } finally {
        syncJournal();
      }
    }, RESTORE_WAIT_MS);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
