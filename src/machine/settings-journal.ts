// Machine settings (nr_hugepages, THP knobs) shared between uffd-suite runs,
// and kept on record so a run killed with SIGKILL is undone by the next one.
//
//   - Every change, give-back and recovery happens under an flock on
//     <state dir>/lock, held only for that moment, so a value is read and
//     written by one run at a time (what a run wants is computed under it).
//   - <state dir>/runs.json lists each run that has something changed:
//     its pid and start time (to tell whether it still lives) and its
//     changes. A change is written there before it is made.
//   - Huge page counts are shared: a run adds its own share on top of what
//     is there and later takes exactly that share off again, whatever other
//     runs did meanwhile ({path, share}).
//   - Other settings (THP knobs) are set to a value and put back
//     ({path, original, written}); only one run at a time may hold such
//     changes (an flock on <state dir>/knobs.lock, held while they last).
//   - Whoever takes the lock puts back what runs that died left on record
//     (a set value only where it still reads as that run wrote it) and says
//     so on stderr; also what an older version left in settings.json (it
//     held the same lock for as long as it had something changed).
//   - No record, no change: where the state dir is unusable (not a folder
//     of ours that only we may write, or on a read-only file system) nothing
//     is changed, and SettingsUnsafeError says why.
// The state dir is /run/uffd-suite (root only: an ordinary user cannot
// change these settings); UFFD_SUITE_STATE_DIR overrides it.
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Errno } from "../sys/errno.ts";
import { LOCK, tryFlock } from "../sys/fd.ts";

/** A value set and put back. */
export interface SetEntry {
  readonly path: string;
  /** The value to put back. */
  readonly original: string;
  /** The value this process wrote (a later run restores only if it is still there). */
  readonly written: string;
}

/** A count raised by `share` on top of whatever was there; taken off again by the same amount. */
export interface ShareEntry {
  readonly path: string;
  readonly share: number;
}

export type JournalEntry = SetEntry | ShareEntry;

export const isShare = (e: JournalEntry): e is ShareEntry => "share" in e;

interface RunRecord {
  readonly pid: number;
  /** Start time of the process (/proc/PID/stat field 22): a pid reused later is not this run. */
  readonly start?: string;
  readonly command: string;
  readonly changes: readonly JournalEntry[];
}

interface JournalFile {
  readonly runs: readonly RunRecord[];
}

/** How long a run waits for the lock (held for a moment by each change) or for another run's THP knobs. */
const LOCK_WAIT_MS = 10_000;
const KNOBS_WAIT_MS = 5000;

export class SettingsBusyError extends Error {
  override readonly name = "SettingsBusyError";
}

/** The state dir cannot be trusted or written: no machine setting may change. */
export class SettingsUnsafeError extends Error {
  override readonly name = "SettingsUnsafeError";
}

const warn = (line: string) => process.stderr.write(`uffd-suite: ${line}\n`);

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Where the lock and runs.json live; undefined for a non-root user, who cannot change these settings. */
function stateDir(): string | undefined {
  const forced = process.env.UFFD_SUITE_STATE_DIR;
  if (forced) return forced;
  return process.getuid?.() === 0 ? "/run/uffd-suite" : undefined;
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Why the state dir cannot hold the record (undefined: it can): it must be a real folder of ours that no one else may write. */
function unusable(dir: string): string | undefined {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return `cannot read the state folder ${dir} (${errCode(e)})`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      st = lstatSync(dir);
    } catch (e2) {
      return `cannot make the state folder ${dir} (${errCode(e2)})`;
    }
  }
  if (st.isSymbolicLink()) return `the state folder ${dir} is a symbolic link`;
  if (!st.isDirectory()) return `the state folder ${dir} is not a folder`;
  if (st.uid !== process.getuid?.()) return `the state folder ${dir} belongs to uid ${st.uid}, not to this user`;
  if ((st.mode & 0o022) !== 0) return `the state folder ${dir} may be written by others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

/** The state dir to use, or throws SettingsUnsafeError naming why there is none. */
function usableDir(): string {
  const dir = stateDir();
  const why = dir === undefined ? "changing machine settings needs root" : unusable(dir);
  if (why) throw new SettingsUnsafeError(`not changing machine settings: ${why}`);
  return dir!;
}

const journalPath = (dir: string) => join(dir, "runs.json");
/** Where versions before the shared huge page counts kept one run's record (they hold the lock while it exists). */
const legacyPath = (dir: string) => join(dir, "settings.json");

/** The value a knob holds: THP knobs read "always [madvise] never", the bracketed word is it. */
export function readSetting(path: string): string {
  const s = readFileSync(path, "utf8").trim();
  return /\[([^\]]+)\]/.exec(s)?.[1] ?? s;
}

function processStart(pid: number): string | undefined {
  try {
    // Field 22; the command (field 2) may hold spaces, so count from its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const myStart = processStart(process.pid);
const isMine = (r: RunRecord) => r.pid === process.pid && r.start === myStart;

/** Does the run that wrote `r` still live? (A record kept for the next run has no start time.) */
function alive(r: RunRecord): boolean {
  return r.start !== undefined && processStart(r.pid) === r.start;
}

function readJournal(dir: string): JournalFile {
  let text: string;
  try {
    text = readFileSync(journalPath(dir), "utf8");
  } catch {
    return { runs: [] };
  }
  try {
    const j = JSON.parse(text) as Partial<JournalFile>;
    if (Array.isArray(j.runs)) return { runs: j.runs };
  } catch {
    // fall through
  }
  warn(`${journalPath(dir)} cannot be read as a record of settings; ignored`);
  return { runs: [] };
}

function writeJournal(dir: string, body: JournalFile): void {
  const path = journalPath(dir);
  if (body.runs.length === 0) {
    rmSync(path, { force: true });
    return;
  }
  writeFileSync(`${path}.tmp`, `${JSON.stringify(body, null, 1)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

function describe(r: RunRecord | undefined): string {
  return r ? `pid ${r.pid}: ${r.command}` : "pid unknown";
}

/** One name for a count: /proc/sys/vm/nr_hugepages and the default size's sysfs nr_hugepages are the same. */
export function shareKey(path: string): string {
  if (path !== "/proc/sys/vm/nr_hugepages") return path;
  const kb = /^Hugepagesize:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
  return kb ? `/sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages` : path;
}

/** Undo what one dead run left; returns the changes that could not be undone. */
function undoDeadRun(r: RunRecord): JournalEntry[] {
  const kept: JournalEntry[] = [];
  for (const c of [...r.changes].reverse()) {
    let now: string;
    try {
      now = readSetting(c.path);
    } catch (e) {
      warn(`cannot read ${c.path} to put back what ${describe(r)} left: ${(e as Error).message}`);
      kept.unshift(c);
      continue;
    }
    let to: string;
    if (isShare(c)) {
      if (c.share === 0) continue;
      if (Number(now) < c.share) {
        warn(`${c.path} is ${now}, less than the ${c.share} an unfinished run (${describe(r)}) added: left as it is`);
        continue;
      }
      to = String(Number(now) - c.share);
    } else {
      if (now === c.original) continue;
      if (now !== c.written) {
        warn(`${c.path} is ${now}, not the ${c.written} an unfinished run (${describe(r)}) wrote: left as it is`);
        continue;
      }
      to = c.original;
    }
    try {
      writeFileSync(c.path, to);
      const what = isShare(c) ? `, its share of ${c.share}` : "";
      warn(`put ${c.path} back to ${to} (an unfinished run, ${describe(r)}, left it at ${now}${what})`);
    } catch (e) {
      warn(`cannot put ${c.path} back to ${to} (left at ${now} by ${describe(r)}): ${(e as Error).message}`);
      kept.unshift(c);
    }
  }
  return kept;
}

/**
 * An older version's record (settings.json: one run, set values): it holds
 * the lock while the file is there, so under the lock its run is over.
 */
function readLegacy(dir: string): RunRecord[] {
  try {
    const j = JSON.parse(readFileSync(legacyPath(dir), "utf8")) as Partial<RunRecord>;
    return Array.isArray(j.changes) ? [{ pid: j.pid ?? 0, command: j.command ?? "", changes: j.changes }] : [];
  } catch {
    return [];
  }
}

function recoverLegacy(dir: string): void {
  if (!existsSync(legacyPath(dir))) return;
  const [r] = readLegacy(dir);
  const kept = r ? undoDeadRun(r) : [];
  if (kept.length === 0) rmSync(legacyPath(dir), { force: true });
  else writeFileSync(legacyPath(dir), `${JSON.stringify({ ...r, changes: kept }, null, 1)}\n`, { mode: 0o600 });
}

/** Put back what runs that died left on record (under the lock). */
function recoverDead(dir: string): void {
  recoverLegacy(dir);
  const j = readJournal(dir);
  let changed = false;
  const runs: RunRecord[] = [];
  for (const r of j.runs) {
    if (isMine(r) || alive(r)) {
      runs.push(r);
      continue;
    }
    changed = true;
    const kept = undoDeadRun(r);
    // What could not be put back stays on record for the next run.
    if (kept.length > 0) runs.push({ ...r, changes: kept, start: undefined });
  }
  if (changed) writeJournal(dir, { runs });
}

/**
 * Open <dir>/<name> and flock it, waiting up to `waitMs` (`onWait` once,
 * when it must wait). Returns the fd; throws SettingsUnsafeError where it
 * cannot be had, SettingsBusyError (`busy()`) past the wait.
 */
function lockFile(dir: string, name: string, waitMs: number, busy: () => string, onWait?: () => void): number {
  const path = join(dir, name);
  let fd: number;
  try {
    // (node opens with O_CLOEXEC.)
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    throw new SettingsUnsafeError(`not changing machine settings: cannot open ${path} (${errCode(e)})`);
  }
  const deadline = performance.now() + waitMs;
  for (let round = 0; ; round++) {
    const rc = tryFlock(fd, LOCK.EX | LOCK.NB);
    if (rc === 0) return fd;
    if (rc !== -Errno.EAGAIN || performance.now() >= deadline) {
      closeSync(fd);
      if (rc !== -Errno.EAGAIN) throw new SettingsUnsafeError(`not changing machine settings: cannot lock ${path} (errno ${-rc})`);
      throw new SettingsBusyError(busy());
    }
    if (round === 0) onWait?.();
    sleepMs(20);
  }
}

const runsHeld = (list: readonly RunRecord[]) => list.map(describe).join("; ") || "pid unknown";

let lockDepth = 0;
let lockDir: string | undefined;
/** The lock was once held past the wait (an older version holds it for its whole run): later changes do not wait again. */
let busySeen = false;

/**
 * Run `fn` holding the settings lock, after putting back what dead runs
 * left. Throws SettingsUnsafeError (no usable state dir) or, past
 * `waitMs` (default 10 s, or none once a wait has failed), SettingsBusyError.
 */
export function withSettingsLock<T>(fn: () => T, waitMs?: number): T {
  if (lockDepth > 0) {
    lockDepth++;
    try {
      return fn();
    } finally {
      lockDepth--;
    }
  }
  const dir = usableDir();
  const wait = waitMs ?? (busySeen ? 0 : LOCK_WAIT_MS);
  const fd = lockFile(dir, "lock", wait, () => {
    if (wait > 0) busySeen = true;
    return `machine settings are held by another uffd-suite run (${runsHeld([...readJournal(dir).runs.filter((r) => !isMine(r)), ...readLegacy(dir)])})`;
  });
  try {
    lockDepth = 1;
    lockDir = dir;
    try {
      recoverDead(dir);
      return fn();
    } finally {
      lockDepth = 0;
      lockDir = undefined;
      tryFlock(fd, LOCK.UN);
    }
  } finally {
    closeSync(fd);
  }
}

function lockedDir(): string {
  if (!lockDir) throw new Error("settings journal used without the settings lock");
  return lockDir;
}

/** Record what this process has changed and not yet put back (under the lock; before each write, after each restore). */
export function recordSettings(changes: readonly JournalEntry[]): void {
  const dir = lockedDir();
  const runs = readJournal(dir).runs.filter((r) => !isMine(r));
  if (changes.length > 0) {
    runs.push({ pid: process.pid, start: myStart, command: ["uffd-suite", ...process.argv.slice(2)].join(" "), changes });
  }
  writeJournal(dir, { runs });
}

/** The shares other live runs hold on the count at `path` (under the lock). */
export function othersShare(path: string): number {
  const key = shareKey(path);
  let sum = 0;
  for (const r of readJournal(lockedDir()).runs) {
    if (isMine(r) || !alive(r)) continue;
    for (const c of r.changes) if (isShare(c) && shareKey(c.path) === key) sum += c.share;
  }
  return sum;
}

/** The knobs lock while this process holds it. */
let knobs: { fd: number } | undefined;

/**
 * Take the THP-knob lock for this process (a no-op while held). Waits up to
 * `waitMs` for another run to put its knobs back; then throws
 * SettingsBusyError naming it.
 */
export function claimKnobs(waitMs = KNOBS_WAIT_MS): void {
  if (knobs) return;
  const dir = usableDir();
  const holders = () => runsHeld(readJournal(dir).runs.filter((r) => !isMine(r) && r.changes.some((c) => !isShare(c))));
  const fd = lockFile(
    dir,
    "knobs.lock",
    waitMs,
    () => `machine settings are held by another uffd-suite run (${holders()}); run one at a time`,
    () => warn(`waiting up to ${Math.round(waitMs / 1000)} s for another uffd-suite run (${holders()}) to put THP settings back`),
  );
  knobs = { fd };
}

/** Drop the knobs lock (once no set value of this process is pending). */
export function releaseKnobs(): void {
  if (!knobs) return;
  tryFlock(knobs.fd, LOCK.UN);
  closeSync(knobs.fd);
  knobs = undefined;
}

/**
 * At the start of a command that runs tests: put back what unfinished runs
 * left. Returns why this run may change no machine setting (an unusable
 * state dir, as root), else undefined; a busy lock is not a reason (each
 * change tries again).
 */
export function recoverAbandonedSettings(): string | undefined {
  if (stateDir() === undefined) return undefined;
  try {
    // Without waiting: a run holding the lock does this itself when it lets go.
    withSettingsLock(() => undefined, 0);
  } catch (e) {
    if (e instanceof SettingsUnsafeError) return e.message;
    if (!(e instanceof SettingsBusyError)) throw e;
  }
  return undefined;
}
