// A TMPDIR with no room (full, read-only, missing) is said once, before any
// case runs, and the run (and its case processes, which inherit the
// environment) uses another temporary folder that has room, if there is one.
import { accessSync, constants, statfsSync } from "node:fs";
import { tmpdir } from "node:os";

/** Less free than this, and a folder is taken as full. */
const ENOUGH_BYTES = 16 * 2 ** 20;
const FALLBACKS = ["/tmp", "/var/tmp", "/dev/shm"];

/** Why `dir` cannot take temporary files, or undefined where it can. */
function noRoom(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    const fs = statfsSync(dir);
    const free = fs.bavail * fs.bsize;
    if (free < ENOUGH_BYTES) return `is full (${Math.floor(free / 1024)} KiB free)`;
    return fs.ffree === 0 && fs.files > 0 ? "has no free inodes" : undefined;
  } catch (e) {
    return `cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}

/** Check TMPDIR; where it has no room, say so in one line on stderr and switch to a fallback that has. */
export function checkTmpdir(): void {
  const dir = tmpdir();
  const why = noRoom(dir);
  if (!why) return;
  const other = FALLBACKS.find((d) => d !== dir && !noRoom(d));
  if (other) process.env.TMPDIR = other;
  process.stderr.write(
    `uffd-suite: TMPDIR ${dir} ${why}; ${other ? `using ${other} instead` : "no other temporary folder has room either"}\n`,
  );
}
