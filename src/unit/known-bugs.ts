// A failure that is a known kernel bug (the case table's knownBugs: memory
// types plus the failing check's text) gets the upstream fix as its first
// diagnostic, like LTP's linux-git tags. It stays a failure.
import type { MemoryName } from "../harness/memory.ts";
import { knownBugNote, type UnitCase } from "./case.ts";
import type { CaseResult } from "./result.ts";

export function withKnownBug(r: CaseResult, unit: UnitCase, mem: MemoryName | undefined): CaseResult {
  if (r.status !== "fail" || !mem) return r;
  const bugs = (unit.knownBugs ?? []).filter((b) => b.memory.includes(mem) && r.diagnostics.some((d) => d.includes(b.check)));
  return bugs.length === 0 ? r : { ...r, diagnostics: [...bugs.map(knownBugNote), ...r.diagnostics] };
}
