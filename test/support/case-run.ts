// Run one unit case on one memory type the way the runner does in-process:
// the gate (features, huge pages) first, then the case through its CaseRun.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HugepageLimit, HugepageShortfall, hugepageShortage, reserveHugepages } from "../../src/machine/hugepages.ts";
import { defaultHugePageSize, MEMORY, type MemoryName } from "../../src/harness/memory.ts";
import { workerPool } from "../../src/harness/pool.ts";
import type { SettingChange } from "../../src/machine/restore.ts";
import type { FeatureSet } from "../../src/uffd/bits.ts";
import type { UnitCase } from "../../src/unit/case.ts";
import { hugepagesFor, skipReason, staticSkipReason } from "../../src/unit/gate.ts";
import type { CaseResult } from "../../src/unit/result.ts";
import { runCase } from "../../src/unit/run-case.ts";

export async function runOne(c: UnitCase, mem: MemoryName, opts: { kernel: FeatureSet; plant?: readonly string[] }): Promise<CaseResult> {
  const type = MEMORY[mem];
  const skip = skipReason(c, type, { features: opts.kernel });
  if (skip) return { status: "skip", reason: skip, diagnostics: [] };
  return runCase(c, type, { kernel: opts.kernel, planted: { plant: new Set(opts.plant ?? []) } });
}

/** The result as one readable block (for an assertion message). */
export function describeResult(name: string, r: CaseResult): string {
  return [`${name}: ${r.status}${r.reason ? ` (${r.reason})` : ""}`, ...r.diagnostics.map((d) => `  # ${d}`)].join("\n");
}

const isRoot = () => process.getuid?.() === 0;

/**
 * For a file of case runs: reserve `hugepages` huge pages before its tests
 * and give them back (and stop the Worker pool) after, then print each
 * recorded run's time. Returns the recorder. Only a process that may not
 * raise nr_hugepages, a kernel that cannot give the pages, or pages the
 * policy refuses (more than half of MemAvailable) goes on
 * without them (the hugetlb cases then skip, naming the shortage); any
 * other failure to reserve fails the file. The recorder's `reservedAsRoot()`
 * says whether root reserved them: a run-time "not enough HugeTLB pages"
 * skip in this file is then a failure.
 */
export function caseRunFile(hugepages: number): CaseRunRecorder {
  let reserved: SettingChange | undefined;
  let reservedAsRoot = false;
  const timings: string[] = [];
  beforeAll(() => {
    if (hugepages <= 0 || defaultHugePageSize() === 0) return;
    try {
      reserved = reserveHugepages(hugepages);
      reservedAsRoot = isRoot() && reserved !== undefined;
    } catch (e) {
      // The kernel had no more to give (HugepageShortfall), or the policy refused more than half of MemAvailable.
      const tolerated = !isRoot() || e instanceof HugepageShortfall || e instanceof HugepageLimit;
      if (!tolerated) throw e;
      console.log(`# cannot reserve huge pages: ${(e as Error).message}`);
    }
  });
  afterAll(() => {
    reserved?.dispose();
    workerPool().shutdown();
    if (timings.length > 0) console.log(timings.join("\n"));
  });
  const record = (name: string, r: CaseResult) => {
    timings.push(`# ${name}: ${r.status} ${r.ms ?? 0} ms${r.reason ? ` (${r.reason})` : ""}`);
  };
  return Object.assign(record, { reservedAsRoot: () => reservedAsRoot });
}

/** caseRunFile's recorder of run times; `reservedAsRoot()`: root reserved this file's huge pages before its tests. */
export interface CaseRunRecorder {
  (name: string, r: CaseResult): void;
  readonly reservedAsRoot: () => boolean;
}

/** A skip for huge pages missing at run time. */
export const SHORTAGE_SKIP = /^not enough HugeTLB pages/;

/**
 * A run-time skip for missing huge pages may only happen where this file did
 * not reserve them as root (a process without root, or a kernel that could
 * not give them): otherwise it is a failure.
 */
export function expectShortageSkipAllowed(timed: CaseRunRecorder, name: string, r: CaseResult): void {
  if (r.status === "skip" && SHORTAGE_SKIP.test(r.reason ?? "") && timed.reservedAsRoot()) {
    throw new Error(`skipped for huge pages although root reserved them for this file\n${describeResult(name, r)}`);
  }
}

/** Only a missing feature or missing huge pages may skip a case here, and the skip says which. */
export const RESOURCE_SKIP = /^(feature missing: |not enough HugeTLB pages)/;

/**
 * A run on the real kernel passes, or skips for a missing resource it names
 * (logged); not for huge pages where `timed`'s file reserved them as root.
 */
export function expectPassOrResourceSkip(timed: CaseRunRecorder, name: string, r: CaseResult): void {
  if (r.status === "skip") {
    expect(r.reason).toMatch(RESOURCE_SKIP);
    expectShortageSkipAllowed(timed, name, r);
    console.log(`# SKIP ${name}: ${r.reason}`);
    return;
  }
  if (r.status !== "pass") throw new Error(describeResult(name, r));
}

/**
 * Why `c` on `mem` will skip here, where that is known when the file loads:
 * a missing feature, or (for a process that cannot raise nr_hugepages) too
 * few free huge pages. Undefined where the run must decide.
 */
export function loadTimeSkip(c: UnitCase, mem: MemoryName, kernel: FeatureSet): string | undefined {
  const type = MEMORY[mem];
  const fixed = staticSkipReason(c, type, { features: kernel });
  if (fixed !== undefined) return RESOURCE_SKIP.test(fixed) ? fixed : undefined;
  const need = hugepagesFor(c, type);
  return need > 0 && !isRoot() ? hugepageShortage(need) : undefined;
}

/**
 * "cases on every memory type": one test per case and memory type that runs
 * it, records its time, and expects a pass or a resource skip; except where
 * `mustSkip` names the skip a case must give here instead (its test checks that).
 */
export function describeCasesOnEveryMemory(
  cases: readonly UnitCase[],
  opts: { kernel: FeatureSet; timed: CaseRunRecorder; mustSkip?: (c: UnitCase) => string | undefined },
): void {
  describe("cases on every memory type", () => {
    for (const c of cases) {
      for (const mem of c.memory as readonly MemoryName[]) {
        const name = `${c.name} on ${mem}`;
        test(name, async () => {
          const r = await runOne(c, mem, { kernel: opts.kernel });
          opts.timed(name, r);
          const skip = opts.mustSkip?.(c);
          if (skip === undefined) return expectPassOrResourceSkip(opts.timed, name, r);
          if (r.status !== "skip") throw new Error(describeResult(name, r));
          expect(r.reason).toBe(skip);
        });
      }
    }
  });
}
