// A gone reader of a piped stdout, seen without waiting for the next write
// (test runs only: loading it opens libc, which other commands need not pay).
import { fstatSync } from "node:fs";
import { POLL, pollRevents } from "../sys/fd.ts";
import { stdoutLost } from "./stdout-guard.ts";

/**
 * For a test run, whose results may be seconds apart: where stdout is a
 * pipe, look every 100 ms whether its reader has gone (POLLERR), so the
 * run ends then rather than at its next result.
 */
export function watchStdoutReader(): void {
  let pipe = false;
  try {
    pipe = fstatSync(1).isFIFO();
  } catch {
    return;
  }
  if (!pipe) return;
  setInterval(() => {
    if (pollRevents(1, 0, 0) & POLL.ERR) stdoutLost("EPIPE");
  }, 100).unref();
}
