// Plants (UFFD_SUITE_PLANT) are a closed list: every name the code tests for
// is in it, every entry is tested for somewhere, and a name that is no plant
// is a usage error before anything runs.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PLANT_NAMES as EXPLORE_PLANT_NAMES } from "../src/explore/plants.ts";
import { PLANTS, plantNames, unknownPlants } from "../src/plants.ts";
import { childEnv, fromSource, REPO } from "./support/binary.ts";

/** Plant names the source tests for: planted(t, "x"), plant.has("x") and the stress list. */
function namesInSource(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts") && !p.endsWith("plants.ts")) {
        const text = readFileSync(p, "utf8");
        for (const m of text.matchAll(/(?:planted\(t, |plant\.has\(|plantNames\(\)\.includes\()"([a-z-]+)"/g)) found.add(m[1]!);
        const stress = /STRESS_PLANTS: readonly StressPlant\[\] = \[([^\]]*)\]/.exec(text);
        for (const m of stress?.[1]?.matchAll(/"([a-z-]+)"/g) ?? []) found.add(m[1]!);
      }
    }
  };
  walk(join(REPO, "src"));
  // explore keeps its plant names in one table of its own.
  for (const n of Object.values(EXPLORE_PLANT_NAMES)) found.add(n);
  return found;
}

describe("the list of plants", () => {
  test("names exactly the plants the code tests for", () => {
    expect([...namesInSource()].sort()).toEqual(Object.keys(PLANTS).sort());
  });

  test("reading UFFD_SUITE_PLANT", () => {
    expect(plantNames({})).toEqual([]);
    expect(plantNames({ UFFD_SUITE_PLANT: " counter, ,wrong-page" })).toEqual(["counter", "wrong-page"]);
    expect(unknownPlants({ UFFD_SUITE_PLANT: "counter,countr,toString" })).toEqual(["countr", "toString"]);
  });
});

describe("an unknown plant name is a usage error", () => {
  for (const args of [["unit", "-f", "zeropage", "--mem", "anon"], ["stress", "anon", "8", "2"], ["wp-mremap"], ["run"]]) {
    test(`UFFD_SUITE_PLANT=counter,countr uffd-suite ${args.join(" ")}: exit 2, one line, nothing run`, () => {
      const r = Bun.spawnSync([...fromSource(), ...args], {
        cwd: REPO,
        env: childEnv({ UFFD_SUITE_PLANT: "counter,countr" }),
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(r.exitCode).toBe(2);
      expect(r.stdout.toString()).toBe("");
      expect(r.stderr.toString()).toMatch(/^uffd-suite: unknown plant 'countr' in UFFD_SUITE_PLANT \(see uffd-suite [a-z-]+ --help\)\n$/);
    });
  }
});
