// Every option and argument value the test commands take, checked before
// anything runs: each parser returns the value or throws UsageError (one line
// naming the problem, exit 2).
import { availableParallelism } from "node:os";
import { MEMORY_NAMES, type MemoryName, type MemoryType, memoryType } from "../harness/memory.ts";
import { UsageError } from "./usage-error.ts";

/** -f: a part of a case name; an empty one would select everything by accident. */
export function parseFilter(s: string | undefined): string | undefined {
  if (s !== undefined && s === "") throw new UsageError("-f wants a non-empty part of a case name");
  return s;
}

/** --mem: memory types, comma-separated. */
export function parseMems(s: string | undefined): MemoryName[] | undefined {
  if (s === undefined) return undefined;
  const names = s.split(",").map((m) => m.trim());
  for (const m of names) {
    if (!(MEMORY_NAMES as readonly string[]).includes(m)) {
      throw new UsageError(`unknown memory type '${m}' in --mem (expected ${MEMORY_NAMES.join(", ")})`);
    }
  }
  return names as MemoryName[];
}

export function parseOrigin(s: string | undefined): "kernel" | "suite" | undefined {
  if (s === undefined || s === "all") return undefined;
  if (s === "kernel" || s === "suite") return s;
  throw new UsageError(`--origin wants kernel, suite or all, not '${s}'`);
}

/** Longest --timeout: a day (setTimeout cannot wait past 2^31 ms; beyond it would fire at once). */
export const MAX_TIMEOUT_S = 86_400;
/** Shortest --timeout: below a second a case would be killed before its process has got going. */
export const MIN_TIMEOUT_S = 1;

/** Most cases side by side. */
export const MAX_JOBS = 1024;

/** The CPUs this process may run on. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** --jobs: a whole number 1..MAX_JOBS; default the CPUs we may use (1 without isolation). */
export function parseJobs(s: string | undefined, isolate = true): number {
  if (s === undefined) return isolate ? defaultJobs() : 1;
  const v = /^[0-9]+$/.test(s) ? Number(s) : Number.NaN;
  if (!(v >= 1)) throw new UsageError(`--jobs wants a whole number of cases >= 1, not '${s}'`);
  if (v > MAX_JOBS) throw new UsageError(`--jobs ${s} is too many (at most ${MAX_JOBS})`);
  if (v > 1 && !isolate) throw new UsageError("--jobs above 1 needs each case in its own process (leave out --no-isolate)");
  return v;
}

/** --timeout: decimal seconds MIN_TIMEOUT_S..MAX_TIMEOUT_S, default 60. */
export function parseTimeout(s: string | undefined): number {
  if (s === undefined) return 60;
  // Decimal only: Number() would also take "0x10", "1e1" and " 5".
  const v = /^[0-9]+(\.[0-9]+)?$/.test(s) ? Number(s) : Number.NaN;
  if (Number.isNaN(v)) throw new UsageError(`--timeout wants a decimal number of seconds (at least ${MIN_TIMEOUT_S}), not '${s}'`);
  if (v < MIN_TIMEOUT_S) throw new UsageError(`--timeout ${s} is too short (at least ${MIN_TIMEOUT_S} s)`);
  if (v > MAX_TIMEOUT_S) throw new UsageError(`--timeout ${s} is too long (at most ${MAX_TIMEOUT_S} s)`);
  return v;
}

/** stress's memory type argument. */
export function parseMemory(raw: string): MemoryType {
  if (!(MEMORY_NAMES as readonly string[]).includes(raw)) {
    throw new UsageError(`unknown memory type '${raw}' (expected one of ${MEMORY_NAMES.join(", ")})`);
  }
  return memoryType(raw);
}

const MiB = 1024 * 1024;

/** stress's size argument: whole MiB, at least 1. */
export function parseMiB(raw: string): number {
  if (!/^[0-9]+$/.test(raw)) throw new UsageError(`size must be a whole number of MiB, got '${raw}'`);
  const n = Number(raw);
  if (n <= 0) throw new UsageError(`size must be at least 1 MiB, got '${raw}'`);
  if (!Number.isSafeInteger(n * MiB)) throw new UsageError(`size ${raw} MiB is too large`);
  return n;
}

/** Most bounces: the C keeps the count in an int. */
const MAX_BOUNCES = 0x7fffffff;

/** stress's bounces argument: a whole number 1..MAX_BOUNCES. */
export function parseBounces(raw: string): number {
  if (!/^[0-9]+$/.test(raw)) throw new UsageError(`bounces must be a whole number, got '${raw}'`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new UsageError(`bounces ${raw} is too large`);
  if (n <= 0) throw new UsageError(`bounces must be at least 1, got '${raw}'`);
  if (n > MAX_BOUNCES) throw new UsageError(`bounces ${raw} is too large (at most ${MAX_BOUNCES})`);
  return n;
}

/** A number of seconds (decimal) up to a day, 0 allowed: `what` names the option. */
export function parseSeconds(what: string, raw: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(raw)) throw new UsageError(`${what} must be a number of seconds, got '${raw}'`);
  const n = Number(raw);
  if (n > MAX_TIMEOUT_S) throw new UsageError(`${what} ${raw} is too large (at most ${MAX_TIMEOUT_S} s)`);
  return n;
}
