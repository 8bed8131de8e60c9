// The fan-out of the catalogue: one entry per (case, memory type), in the C
// suite's order, narrowed by a name filter and a set of memory types.
import { MEMORY, type MemoryName, type MemoryType } from "../harness/memory.ts";
import type { UnitCase } from "./case.ts";
import { UNIT_CASES } from "./catalogue.ts";
import { testOnlyCases } from "./test-cases.ts";
import { thrownCases } from "./thrown-cases.ts";

export interface PlannedCase {
  readonly unit: UnitCase;
  /** undefined for cases that need no memory (the API checks). */
  readonly mem: MemoryType | undefined;
  /** The result name: `zeropage on shmem`, or the case name alone. */
  readonly name: string;
}

/** Cases that exist in this run: the catalogue, plus the test-only ones when UFFD_SUITE_TEST_CASES=1. */
export function allCases(env: Record<string, string | undefined> = process.env): readonly UnitCase[] {
  return env.UFFD_SUITE_TEST_CASES === "1" ? [...UNIT_CASES, ...testOnlyCases, ...thrownCases] : UNIT_CASES;
}

export function findCase(name: string, env: Record<string, string | undefined> = process.env): UnitCase | undefined {
  return allCases(env).find((c) => c.name === name);
}

export function resultName(c: UnitCase, mem: MemoryType | undefined): string {
  return mem ? `${c.name} on ${mem.name}` : c.name;
}

export interface PlanOptions {
  /** Keep cases whose name contains this. */
  readonly filter?: string;
  /** Keep only these memory types; cases without memory are left out when it is given. */
  readonly mems?: readonly MemoryName[];
  /** Keep only the C suite's cases ("kernel") or only ours ("suite"); all when absent. */
  readonly origin?: UnitCase["origin"];
}

export function planCases(cases: readonly UnitCase[], opts: PlanOptions = {}): PlannedCase[] {
  const out: PlannedCase[] = [];
  for (const c of cases) {
    if (opts.filter !== undefined && !c.name.includes(opts.filter)) continue;
    if (opts.origin !== undefined && c.origin !== opts.origin) continue;
    if (c.memory === "none") {
      if (!opts.mems) out.push({ unit: c, mem: undefined, name: resultName(c, undefined) });
      continue;
    }
    for (const m of c.memory) {
      if (opts.mems && !opts.mems.includes(m)) continue;
      out.push({ unit: c, mem: MEMORY[m], name: resultName(c, MEMORY[m]) });
    }
  }
  return out;
}
