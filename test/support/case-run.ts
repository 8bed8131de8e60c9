// Run one unit case on one memory type the way the runner does in-process:
// the gate (features, huge pages) first, then the case through its CaseRun.
import { MEMORY, type MemoryName } from "../../src/harness/memory.ts";
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
