// Logging for humans, on stderr: stdout carries only results (TAP, reports).
// consola/basic keeps start-up light; CONSOLA_LEVEL sets the level (0 errors
// only ... 3 info, the default ... 5 trace). A CONSOLA_LEVEL that is not a
// whole number is ignored with one warning (consola alone would read it as
// NaN and log everything), and dropped from the environment so the case
// processes do not warn again.
import { createConsola } from "consola/basic";

const INFO = 3;

function level(): number {
  const raw = process.env.CONSOLA_LEVEL;
  if (raw === undefined || raw === "") return INFO;
  if (/^\s*-?\d+\s*$/.test(raw)) return Number(raw);
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  process.stderr.write(`uffd-suite: CONSOLA_LEVEL '${shown}' is not a whole number (0 errors only … 3 info … 5 trace); using ${INFO}\n`);
  delete process.env.CONSOLA_LEVEL;
  return INFO;
}

export const log = createConsola({ stdout: process.stderr, stderr: process.stderr, level: level() });
