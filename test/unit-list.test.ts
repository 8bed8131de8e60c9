// `uffd-suite unit -l` names each case's source file: the file really
// exports that case (so a KTAP name leads to its code in one step).
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { UnitCase } from "../src/unit/case.ts";
import { UNIT_CASES } from "../src/unit/catalogue.ts";
import { caseSource, listCases } from "../src/unit/list.ts";
import { testOnlyCases } from "../src/unit/test-cases.ts";
import { thrownCases } from "../src/unit/thrown-cases.ts";

const ROOT = join(import.meta.dir, "..");

describe("unit -l source files", () => {
  test("every case's listed file exists and exports that very case", async () => {
    const all = [...UNIT_CASES, ...testOnlyCases, ...thrownCases];
    expect(all.length).toBeGreaterThan(40);
    for (const c of all) {
      const file = caseSource(c);
      expect(file, c.name).toBeDefined();
      expect(existsSync(join(ROOT, file!)), file).toBe(true);
      const mod = (await import(join(ROOT, file!))) as Record<string, unknown>;
      const exported = Object.values(mod).some((v) => Array.isArray(v) && (v as UnitCase[]).includes(c));
      expect(exported, `${c.name} in ${file}`).toBe(true);
    }
  });

  test("a case from elsewhere shows '-', and the file is its own column", () => {
    const stray: UnitCase = { ...UNIT_CASES[0]!, name: "stray" };
    expect(caseSource(stray)).toBeUndefined();
    const text = listCases([UNIT_CASES[0]!, stray]);
    const [first, second] = text
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/ {2,}/));
    expect(first![2]).toBe("src/unit/cases/api.ts");
    expect(second![2]).toBe("-");
  });
});
