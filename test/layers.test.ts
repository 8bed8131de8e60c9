// The import graph of src/**/*.ts keeps its layers: no import circle, and no
// import from a lower layer to a higher one. Layers, lowest first:
//   base (log.ts, plants.ts, workers.ts: leaves every layer may use)
//   < sys (libc, the only bun:ffi user) < uffd (the typed API)
//   < report (formats results) < harness and machine (memory, Workers; machine settings, signals)
//   < programs (unit, stress, wp-mremap, explore, bench, features: none imports another)
//   < suite (run: the composition of programs) < cli (cli/, main.ts).
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
const SRC = join(ROOT, "src");

const LAYERS: ReadonlyArray<readonly string[]> = [
  ["log.ts", "plants.ts", "workers.ts"],
  ["sys"],
  ["uffd"],
  ["report"],
  ["harness", "machine"],
  ["unit", "stress", "wp-mremap", "explore", "bench", "features"],
  ["suite"],
  ["cli", "main.ts"],
];
/** Folders of one layer that may import each other (the others in a layer may not). */
const SHARED_LAYERS = new Set([0, 4, 7]);

/**
 * TEMPORARY: violations that only the moves of `run` (to src/suite/) and of
 * the features probe (to src/features/) fix, on another branch. The lead
 * empties this after merging that work; an entry no longer seen fails too.
 */
const TEMPORARY_ALLOWED: readonly string[] = [
  "stress/vmtests.ts -> unit/",
  "stress/vmtests.ts -> wp-mremap/",
  "report/features.ts -> harness/",
];

/** The top-level room of a file under src: its folder, or its name for a file at the top. */
export function roomOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 1 ? parts[0]! : file;
}

export function layerOf(file: string): number {
  const room = roomOf(file);
  const i = LAYERS.findIndex((l) => l.includes(room));
  if (i < 0) throw new Error(`${file}: its room ${room} is in no layer (add it to LAYERS in test/layers.test.ts)`);
  return i;
}

/** Relative import specifiers in TypeScript source: static, re-export, side-effect and dynamic imports. */
export function importsIn(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec?.startsWith(".")) out.push(spec);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => relative(SRC, join(e.parentPath, e.name)))
    .sort();
}

/** src-relative file -> the src files it imports (only .ts files under src). */
export function importGraph(files: readonly string[], read: (f: string) => string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps = importsIn(read(f))
      .map((spec) => normalize(join(dirname(f), spec)))
      .filter((d) => d.endsWith(".ts") && !d.startsWith(".."));
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** Each import that goes up a layer, or across two rooms of a layer that may not. */
export function layerViolations(graph: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [from, deps] of graph) {
    for (const to of deps) {
      const lf = layerOf(from);
      const lt = layerOf(to);
      const across = lf === lt && roomOf(from) !== roomOf(to) && !SHARED_LAYERS.has(lf);
      if (lt > lf || across) bad.push(`${from} -> ${to}`);
    }
  }
  return bad;
}

/** Every import circle (each once, as a path of files that returns to its start). */
export function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, "open");
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === "open") found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

const allowed = (v: string) => TEMPORARY_ALLOWED.some((a) => v.startsWith(a.split(" -> ")[0]!) && v.includes(` -> ${a.split(" -> ")[1]}`));

describe("import layers of src/", () => {
  const files = sourceFiles(SRC);
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
    expect(all.filter((v) => !allowed(v))).toEqual([]);
    // The temporary allowlist holds only what is still seen.
    for (const a of TEMPORARY_ALLOWED) expect(all.some((v) => allowed(v) && v.startsWith(a.split(" -> ")[0]!) && v.includes(` -> ${a.split(" -> ")[1]}`))).toBe(true);
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
      "import {\n  f,\n  g,\n} from \"./fg.ts\";",
      'import { h } from "node:fs";',
    ].join("\n");
    expect(importsIn(text)).toEqual(["./a.ts", "../b.ts", "./c.ts", "./fg.ts", "./d.ts", "./e.ts"].sort((x, y) => text.indexOf(x) - text.indexOf(y)));
  });
});
