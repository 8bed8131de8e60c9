// One uffd-suite process at a time may change machine settings
// (nr_hugepages, THP knobs), and what it changed is on disk until it is put
// back. Two runs that interleave their save and restore leave nr_hugepages
// wrong (each restores "its" original over the other's change), and a run
// killed with SIGKILL cannot restore at all. So:
//   - the process that changes a setting first takes an flock on
//     <state dir>/lock, held while any change of its own is pending (the
//     kernel drops it when the process dies, however it dies);
//   - before each write it records {path, original, written} in
//     <state dir>/settings.json, and deletes the file once all are back;
//   - whoever takes the lock and finds a settings.json left behind puts
//     those values back (where the value is still the one that run wrote)
//     and says so on stderr.
// The state dir is /run/uffd-suite (root only: an ordinary user cannot
// change these settings), a folder only its owner may write;
// UFFD_SUITE_STATE_DIR overrides it.
import { closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Errno } from "../sys/errno.ts";
import { LOCK, tryFlock } from "../sys/fd.ts";

export interface JournalEntry {
  readonly path: string;
  /** The value to put back. */
  readonly original: string;
  /** The value this process wrote (a later run restores only if it is still there). */
  readonly written: string;
}

interface JournalFile {
  readonly pid: number;
  readonly command: string;
  readonly changes: readonly JournalEntry[];
}

/** How long a second run waits for the first to put its settings back before giving up. */
const CLAIM_WAIT_MS = 5000;

export class SettingsBusyError extends Error {
  override readonly name = "SettingsBusyError";
}

/**
 * Where the lock and settings.json live; undefined for a non-root user, who
 * cannot change these settings.
 */
function stateDir(): string | undefined {
  const forced = process.env.UFFD_SUITE_STATE_DIR;
  if (forced) return forced;
  return process.getuid?.() === 0 ? "/run/uffd-suite" : undefined;
}

/** The state dir exists and is a real folder of ours that no one else may write (settings.json is trusted). */
function ownDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

const journalPath = (dir: string) => join(dir, "settings.json");

/** The value a knob holds: THP knobs read "always [madvise] never", the bracketed word is it. */
export function readSetting(path: string): string {
  const s = readFileSync(path, "utf8").trim();
  return /\[([^\]]+)\]/.exec(s)?.[1] ?? s;
}

function readJournal(dir: string): JournalFile | undefined {
  let text: string;
  try {
    text = readFileSync(journalPath(dir), "utf8");
  } catch {
    return undefined;
  }
  try {
    const j = JSON.parse(text) as JournalFile;
    return Array.isArray(j.changes) ? j : undefined;
  } catch {
    return { pid: 0, command: "(unreadable settings.json)", changes: [] };
  }
}

function describe(j: JournalFile | undefined): string {
  return j ? `pid ${j.pid}: ${j.command}` : "pid unknown";
}

/** The lock while this process holds it, and what an earlier run left that could not be put back. */
let held: { dir: string; fd: number; inherited: JournalEntry[] } | undefined;
const warn = (line: string) => process.stderr.write(`uffd-suite: ${line}\n`);

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Put back what a run that no longer holds the lock left in settings.json; returns what could not be. */
function recover(dir: string): JournalEntry[] {
  const j = readJournal(dir);
  if (!j) return [];
  // Entries that could not be written stay on record for the next run.
  const kept: JournalEntry[] = [];
  for (const c of [...j.changes].reverse()) {
    let now: string;
    try {
      now = readSetting(c.path);
    } catch (e) {
      warn(`cannot read ${c.path} to put back what ${describe(j)} left: ${(e as Error).message}`);
      kept.unshift(c);
      continue;
    }
    if (now === c.original) continue;
    if (now !== c.written) {
      warn(`${c.path} is ${now}, not the ${c.written} an unfinished run (${describe(j)}) wrote: left as it is`);
      continue;
    }
    try {
      writeFileSync(c.path, c.original);
      warn(`put ${c.path} back to ${c.original} (an unfinished run, ${describe(j)}, left it at ${c.written})`);
    } catch (e) {
      warn(`cannot put ${c.path} back to ${c.original} (left at ${c.written} by ${describe(j)}): ${(e as Error).message}`);
      kept.unshift(c);
    }
  }
  if (kept.length === 0) rmSync(journalPath(dir), { force: true });
  else writeJournal(dir, { ...j, changes: kept });
  return kept;
}

function writeJournal(dir: string, body: JournalFile): void {
  const path = journalPath(dir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(body, null, 1)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/**
 * Take the settings lock for this process (a no-op while it is held),
 * putting back what an earlier, unfinished run left. Waits up to `waitMs`
 * for another live run to finish; then throws SettingsBusyError naming it.
 * Returns false where there is no state dir or it cannot be made (not
 * root: such a process cannot change settings either).
 */
export function claimSettings(waitMs = CLAIM_WAIT_MS): boolean {
  if (held) return true;
  const dir = stateDir();
  if (!dir || !ownDir(dir)) return false;
  let fd: number;
  try {
    // (node opens with O_CLOEXEC.)
    fd = openSync(join(dir, "lock"), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch {
    return false;
  }
  const deadline = performance.now() + waitMs;
  for (let round = 0; ; round++) {
    const rc = tryFlock(fd, LOCK.EX | LOCK.NB);
    if (rc === 0) break;
    if (rc !== -Errno.EAGAIN || performance.now() >= deadline) {
      closeSync(fd);
      if (rc !== -Errno.EAGAIN) return false;
      throw new SettingsBusyError(`machine settings are held by another uffd-suite run (${describe(readJournal(dir))}); run one at a time`);
    }
    if (round === 0) warn(`waiting up to ${Math.round(waitMs / 1000)} s for another uffd-suite run (${describe(readJournal(dir))}) to put machine settings back`);
    sleepMs(50);
  }
  held = { dir, fd, inherited: recover(dir) };
  return true;
}

/** Record what this process has changed and not yet put back (before each write, and after each restore). */
export function recordSettings(changes: readonly JournalEntry[]): void {
  if (!held) return;
  const all = [...held.inherited, ...changes].map(({ path, original, written }) => ({ path, original, written }));
  if (all.length === 0) {
    rmSync(journalPath(held.dir), { force: true });
    return;
  }
  writeJournal(held.dir, { pid: process.pid, command: ["uffd-suite", ...process.argv.slice(2)].join(" "), changes: all });
}

/** Drop the lock (once nothing of this process is pending). */
export function releaseSettings(): void {
  if (!held) return;
  tryFlock(held.fd, LOCK.UN);
  closeSync(held.fd);
  held = undefined;
}

/**
 * At the start of a command that runs tests: put back what an unfinished
 * run left, unless a run is going on. Entries that could not be put back
 * stay on record (and this process keeps nothing locked).
 */
export function recoverAbandonedSettings(): void {
  if (held) return;
  try {
    if (claimSettings(0)) releaseSettings();
  } catch (e) {
    if (!(e instanceof SettingsBusyError)) throw e;
  }
}
