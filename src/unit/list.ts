// `uffd-suite unit -l`: each case with its memory types, the file that holds
// it, and one-line description.
import type { UnitCase } from "./case.ts";
import { CATALOGUE_FILES } from "./catalogue.ts";
import { testOnlyCases } from "./test-cases.ts";
import { thrownCases } from "./thrown-cases.ts";

const SOURCES = new Map<UnitCase, string>([
  ...CATALOGUE_FILES.flatMap(([file, list]) => list.map((c) => [c, file] as const)),
  ...testOnlyCases.map((c) => [c, "src/unit/test-cases.ts"] as const),
  ...thrownCases.map((c) => [c, "src/unit/thrown-cases.ts"] as const),
]);

/** The source file (from the repository root) that defines `c`, or undefined for a case from elsewhere. */
export function caseSource(c: UnitCase): string | undefined {
  return SOURCES.get(c);
}

export function listCases(cases: readonly UnitCase[]): string {
  const rows = cases.map((c) => [c.name, c.memory === "none" ? "-" : c.memory.join(","), caseSource(c) ?? "-", c.description] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  return rows.map(([n, m, f, d]) => `${n.padEnd(w0)}  ${m.padEnd(w1)}  ${f.padEnd(w2)}  ${d}\n`).join("");
}
