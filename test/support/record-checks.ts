// Run one unit case with checks that record instead of ending the case, so a
// test can see every check's verdict: which failed, and that the rest passed.
// (The runner stops at the first failing check; a plant meant for one check
// must be shown not to trip another one after it.)
import { UffdTestContext } from "../../src/harness/context.ts";
import { MEMORY, type MemoryName } from "../../src/harness/memory.ts";
import type { FeatureSet } from "../../src/uffd/bits.ts";
import type { CaseRun, UnitCase } from "../../src/unit/case.ts";
import { show } from "../../src/unit/run-case.ts";

export interface CheckVerdict {
  readonly what: string;
  readonly ok: boolean;
  /** The diagnostic the runner would print for it. */
  readonly line: string;
}

export interface RecordedRun {
  readonly checks: readonly CheckVerdict[];
  readonly notes: readonly string[];
  /** What the case threw, other than a check (a skip, an error). */
  readonly thrown?: unknown;
}

/** Every check `c` makes on `mem` with `plant` planted, in order. */
export async function recordChecks(
  c: UnitCase,
  mem: MemoryName,
  opts: { kernel: FeatureSet; plant?: readonly string[] },
): Promise<RecordedRun> {
  const checks: CheckVerdict[] = [];
  const notes: string[] = [];
  const deferred: Array<() => void | Promise<void>> = [];
  const plant = new Set(opts.plant ?? []);
  const t: CaseRun = {
    mem: MEMORY[mem],
    kernel: opts.kernel,
    planted: { plant },
    note: (line) => notes.push(line),
    skip: (reason) => {
      throw new Error(`skip: ${reason}`);
    },
    check: (ok, what, detail) => {
      checks.push({ what, ok, line: `${what}: expected ${show(detail.expected)}, seen ${show(detail.seen)}` });
    },
    equal: (what, seen, expected) => t.check(seen === expected, what, { expected, seen }),
    context: (ctxOpts = {}) => {
      const ctx = UffdTestContext.create(MEMORY[mem], { features: c.features, wrongPage: plant.has("wrong-page"), ...ctxOpts });
      deferred.push(() => ctx.dispose());
      return ctx;
    },
    defer: (fn) => {
      deferred.push(fn);
    },
  };
  let thrown: unknown;
  try {
    await c.run(t);
  } catch (e) {
    thrown = e;
  }
  for (const fn of deferred.reverse()) await fn();
  return { checks, notes, ...(thrown === undefined ? {} : { thrown }) };
}
