// The import graph of src/**/*.ts keeps its layers: no import circle, and no
// import from a lower layer to a higher one. Layers, lowest first
// (test/support/imports.ts, LAYERS):
//   base (log.ts, plants.ts, workers.ts: leaves every layer may use)
//   < sys (libc, the only bun:ffi user) < uffd (the typed API)
//   < report (formats results) < harness and machine (memory, Workers; machine settings, signals)
//   < programs (unit, stress, wp-mremap, explore, bench, features: none imports another)
//   < suite (run: the composition of programs) < cli (cli/, main.ts).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { circles, importGraph, importsIn, layerOf, layerViolations, SRC, sourceFiles } from "./support/imports.ts";

describe("import layers of src/", () => {
  const files = sourceFiles();
  const graph = importGraph(files, (f) => readFileSync(join(SRC, f), "utf8"));

  test("the graph was read: every room is placed and imports were found", () => {
    expect(files.length).toBeGreaterThan(100);
    for (const f of files) layerOf(f);
    const edges = [...graph.values()].reduce((n, d) => n + d.length, 0);
    expect(edges).toBeGreaterThan(300);
  });

  test("no import circle", () => {
    expect(circles(graph).map((c) => c.join(" -> "))).toEqual([]);
  });

  test("no import from a lower layer to a higher one (nor between two programs)", () => {
    const all = layerViolations(graph);
    expect(all).toEqual([]);
  });

  test("the checks fail on a planted upward import and a planted circle", () => {
    const planted = new Map(graph);
    planted.set("sys/mem.ts", [...(graph.get("sys/mem.ts") ?? []), "harness/memory.ts"]);
    expect(layerViolations(planted)).toContain("sys/mem.ts -> harness/memory.ts");
    expect(circles(planted).length).toBeGreaterThan(0);
    const across = new Map(graph);
    across.set("unit/case.ts", ["stress/geometry.ts"]);
    expect(layerViolations(across)).toContain("unit/case.ts -> stress/geometry.ts");
  });

  test("import specifiers are read in every form", () => {
    const text = [
      'import { a } from "./a.ts";',
      'import type { B } from "../b.ts";',
      'export { c } from "./c.ts";',
      'import "./d.ts";',
      'const e = await import("./e.ts");',
      'import {\n  f,\n  g,\n} from "./fg.ts";',
      'import { h } from "node:fs";',
    ].join("\n");
    expect(importsIn(text)).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts", "./fg.ts"]);
  });
});
