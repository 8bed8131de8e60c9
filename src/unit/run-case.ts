// Run one (case, memory type) in this process: the CaseRun a case function
// gets, and the mapping of what it threw to a result.
import { type ContextOptions, UffdTestContext } from "../harness/context.ts";
import type { MemoryType } from "../harness/memory.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import { plantNames } from "../plants.ts";
import { MissingFeatureError } from "../uffd/errors.ts";
import { type CaseRun, CaseSkip, CheckFailure, type PlantedFaults, type UnitCase } from "./case.ts";
import type { CaseResult } from "./result.ts";

/** Planted faults named in UFFD_SUITE_PLANT (comma-separated); empty in normal runs. */
export function plantedFromEnv(env: Record<string, string | undefined> = process.env): PlantedFaults {
  return { plant: new Set(plantNames(env)) };
}

/** A value as a diagnostic shows it. */
export function show(v: unknown): string {
  if (typeof v === "bigint") return `0x${v.toString(16)}`;
  if (typeof v === "string") return v;
  if (v === undefined) return "undefined";
  try {
    return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x));
  } catch {
    return String(v);
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

export interface RunCaseOptions {
  readonly kernel: FeatureSet;
  readonly planted?: PlantedFaults;
}

export async function runCase(c: UnitCase, mem: MemoryType | undefined, opts: RunCaseOptions): Promise<CaseResult> {
  const started = performance.now();
  const notes: string[] = [];
  const deferred: Array<() => void | Promise<void>> = [];
  const t: CaseRun = {
    mem,
    kernel: opts.kernel,
    planted: opts.planted ?? { plant: new Set() },
    note: (line) => notes.push(oneLine(line)),
    skip: (reason) => {
      throw new CaseSkip(reason);
    },
    check(ok, what, detail) {
      if (!ok) throw new CheckFailure(what, [`${what}: expected ${show(detail.expected)}, seen ${show(detail.seen)}`]);
    },
    equal(what, seen, expected) {
      t.check(seen === expected, what, { expected, seen });
    },
    context(ctxOpts: ContextOptions = {}) {
      if (!mem) throw new Error(`case ${c.name} has no memory type to make a context on`);
      const wrongPage = t.planted.plant.has("wrong-page");
      const ctx = UffdTestContext.create(mem, { features: c.features, wrongPage, ...ctxOpts });
      deferred.push(() => ctx.dispose());
      return ctx;
    },
    defer: (fn) => {
      deferred.push(fn);
    },
  };

  let result: Omit<CaseResult, "ms">;
  try {
    await c.run(t);
    result = { status: "pass", diagnostics: notes };
  } catch (e) {
    result = resultOfError(e, notes);
  }
  // Clean up last registered first; a failing clean-up fails a passing case.
  for (const fn of deferred.reverse()) {
    try {
      await fn();
    } catch (e) {
      if (result.status !== "fail") {
        result = { status: "fail", diagnostics: [...result.diagnostics, `clean-up failed: ${oneLine(errorText(e))}`] };
      }
    }
  }
  return { ...result, ms: Math.round(performance.now() - started) };
}

function errorText(e: unknown): string {
  if (e instanceof CaseSkip) return `a skip without a reason`;
  if (e instanceof Error) return `${e.name === "Error" ? "" : `${e.name}: `}${e.message}`;
  return `thrown: ${show(e)}`;
}

/**
 * The verdict on what a case threw. Only a declared "feature/resource
 * missing" condition skips: an explicit skip with a reason, or
 * MissingFeatureError naming a feature. Anything else is a failure naming it.
 */
function resultOfError(e: unknown, notes: string[]): Omit<CaseResult, "ms"> {
  if (e instanceof CaseSkip && oneLine(e.reason) !== "") return { status: "skip", reason: oneLine(e.reason), diagnostics: notes };
  if (e instanceof MissingFeatureError && e.missing.length > 0) {
    return { status: "skip", reason: `feature missing: ${e.missing.join(", ")}`, diagnostics: notes };
  }
  if (e instanceof CheckFailure) {
    const lines = e.diagnostics.length > 0 ? e.diagnostics : [e.message];
    return { status: "fail", diagnostics: [...notes, ...lines.map(oneLine)] };
  }
  return { status: "fail", diagnostics: [...notes, oneLine(errorText(e))] };
}
