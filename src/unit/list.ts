// `uffd-suite unit -l`: each case with its memory types and one-line description.
import type { UnitCase } from "./case.ts";

export function listCases(cases: readonly UnitCase[]): string {
  const rows = cases.map((c) => [c.name, c.memory === "none" ? "-" : c.memory.join(","), c.description] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([n, m, d]) => `${n.padEnd(w0)}  ${m.padEnd(w1)}  ${d}\n`).join("");
}
