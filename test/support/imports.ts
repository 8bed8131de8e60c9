// The import graph of src/**/*.ts and its layers (test/layers.test.ts).
import { readdirSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

export const SRC = join(import.meta.dir, "..", "..", "src");

/** Layers, lowest first: a file may import from its own layer's room and from lower layers. */
export const LAYERS: ReadonlyArray<readonly string[]> = [
  ["log.ts", "plants.ts", "workers.ts"],
  ["sys"],
  ["uffd"],
  ["report"],
  ["harness", "machine"],
  ["unit", "stress", "wp-mremap", "explore", "bench", "features"],
  ["suite"],
  ["cli", "main.ts"],
];
/** Layers whose rooms may import each other (in the others, one room may not import another of its layer). */
export const SHARED_LAYERS: ReadonlySet<number> = new Set([0, 4, 7]);

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
  const re =
    /(?:^|[\s;])(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec?.startsWith(".")) out.push(spec);
  }
  return out;
}

export function sourceFiles(dir: string = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
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
