// A stdout that stops taking the report: its reader has gone (EPIPE, as
// with `uffd-suite unit | head -1`) or its device is full or failing
// (ENOSPC, EIO: `> /dev/full`). Either ends the run at once (abortRun:
// case processes killed, settings put back). A gone reader exits 141, as a
// shell tool killed by SIGPIPE does, and prints nothing; anything else
// prints one line, "the report could not be written", and exits 1.
import { abortRun } from "../machine/signals.ts";
import { EXIT } from "./exit.ts";

/** 128 + SIGPIPE (13). */
export const EXIT_PIPE = 141;

const WHAT: Record<string, string> = {
  ENOSPC: "no space left on device",
  EIO: "input/output error",
  EDQUOT: "disk quota exceeded",
  EFBIG: "file too large",
  EBADF: "stdout is closed",
};

let lost = false;
let guarded = false;

/** Stdout stopped taking the report (`code`: EPIPE, ENOSPC, …): end the run as above, once. */
export function stdoutLost(code: string): void {
  if (lost) return;
  lost = true;
  if (code === "EPIPE") {
    abortRun(EXIT_PIPE);
    return;
  }
  const what = WHAT[code];
  process.stderr.write(`uffd-suite: the report could not be written: stdout: ${code}${what ? ` (${what})` : ""}; stopping\n`);
  abortRun(EXIT.FAIL);
}

/** Handle write errors on stdout as above (instead of a crash dump per write). */
export function guardStdout(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => stdoutLost(e.code ?? e.message));
}
