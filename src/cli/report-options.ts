// --format ktap|json|junit and --output FILE, shared by the commands that
// run tests (unit, stress, wp-mremap, run). Without --output the format goes
// to stdout; with it the file gets the format and stdout keeps KTAP.
// Everything is checked before the command changes anything.
import { accessSync, constants, existsSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "./usage-error.ts";

export const FORMATS = ["ktap", "json", "junit"] as const;
export type Format = (typeof FORMATS)[number];

export const reportArgs = {
  format: {
    type: "string",
    valueHint: "ktap|json|junit",
    description: "Report format (default ktap); goes to --output when given, else to stdout",
  },
  output: {
    type: "string",
    alias: "o",
    valueHint: "FILE",
    description: "Write the report (in --format) to FILE; stdout still gets KTAP",
  },
} as const;

export interface ReportOptions {
  readonly format: Format;
  /** Absolute path, or undefined for stdout. */
  readonly output: string | undefined;
}

/** Pseudo file systems a report must never be written into (a sysctl, a device). */
const FORBIDDEN = ["/proc", "/sys", "/dev"];

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

function checkOutput(raw: string): string {
  if (raw.trim() === "") throw new UsageError("--output wants a file name");
  const path = resolve(raw);
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--output ${raw}: no such directory ${dir}`);
  const real = existsSync(path) ? realpathSync(path) : resolve(realpathSync(dir), path.slice(dir.length + 1));
  if (FORBIDDEN.some((d) => under(real, d))) throw new UsageError(`--output ${raw}: will not write a report under ${FORBIDDEN.join(", ")}`);
  if (existsSync(path) && !statSync(path).isFile()) throw new UsageError(`--output ${raw}: not a regular file`);
  try {
    accessSync(existsSync(path) ? path : dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new UsageError(`--output ${raw}: not writable (${code})`);
  }
  return path;
}

/** Check --format and --output; throws UsageError. */
export function reportOptions(a: { format?: string; output?: string }): ReportOptions {
  const format = a.format ?? "ktap";
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format wants ${FORMATS.join(", ")}, not '${format}'`);
  }
  return { format: format as Format, output: a.output === undefined ? undefined : checkOutput(a.output) };
}
