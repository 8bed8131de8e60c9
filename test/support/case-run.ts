// Run one unit case on one memory type the way the runner does in-process:
// the gate (features, huge pages) first, then the case through its CaseRun.
import { afterAll, beforeAll, expect } from "bun:test";
import { reserveHugepages } from "../../src/harness/hugetlb.ts";
import { MEMORY, type MemoryName } from "../../src/harness/memory.ts";
import { workerPool } from "../../src/harness/pool.ts";
import type { SettingChange } from "../../src/harness/restore.ts";
import type { FeatureSet } from "../../src/uffd/bits.ts";
import type { UnitCase } from "../../src/unit/case.ts";
import { skipReason } from "../../src/unit/gate.ts";
import type { CaseResult } from "../../src/unit/result.ts";
import { runCase } from "../../src/unit/run-case.ts";

export async function runOne(
  c: UnitCase,
  mem: MemoryName,
  opts: { kernel: FeatureSet; plant?: readonly string[] },
): Promise<CaseResult> {
  const type = MEMORY[mem];
  const skip = skipReason(c, type, { features: opts.kernel });
  if (skip) return { status: "skip", reason: skip, diagnostics: [] };
  return runCase(c, type, { kernel: opts.kernel, planted: { plant: new Set(opts.plant ?? []) } });
}

/** The result as one readable block (for an assertion message). */
export function describeResult(name: string, r: CaseResult): string {
  return [`${name}: ${r.status}${r.reason ? ` (${r.reason})` : ""}${r.directive ? ` [${r.directive}]` : ""}`, ...r.diagnostics.map((d) => `  # ${d}`)].join("\n");
}

/**
 * For a file of case runs: reserve `hugepages` huge pages before its tests
 * and give them back (and stop the Worker pool) after, then print each
 * recorded run's time. Returns the recorder.
 */
export function caseRunFile(hugepages: number): (name: string, r: CaseResult) => void {
  let reserved: SettingChange | undefined;
  const timings: string[] = [];
  beforeAll(() => {
    try {
      reserved = reserveHugepages(hugepages);
    } catch (e) {
      console.log(`# cannot reserve huge pages: ${(e as Error).message}`);
    }
  });
  afterAll(() => {
    reserved?.dispose();
    workerPool().shutdown();
    if (timings.length > 0) console.log(timings.join("\n"));
  });
  return (name, r) => {
    timings.push(`# ${name}: ${r.status} ${r.ms ?? 0} ms${r.reason ? ` (${r.reason})` : ""}`);
  };
}

/** Only a missing feature or missing huge pages may skip a case here, and the skip says which. */
export const RESOURCE_SKIP = /^(feature missing: |not enough HugeTLB pages)/;

/** A run on the real kernel passes, or skips for a missing resource it names (logged). */
export function expectPassOrResourceSkip(name: string, r: CaseResult): void {
  if (r.status === "skip") {
    expect(r.reason).toMatch(RESOURCE_SKIP);
    console.log(`# SKIP ${name}: ${r.reason}`);
    return;
  }
  if (r.status !== "pass") throw new Error(describeResult(name, r));
}
