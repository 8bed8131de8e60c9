// `uffd-suite bench`, functional only: tiny runs, well-formed figures. No
// timing is asserted here; the figures themselves come from `npm run bench`.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FEATURE_BITS, type FeatureName } from "../src/uffd/constants.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";

const MAIN = join(import.meta.dir, "..", "src/main.ts");

function bench(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([process.execPath, MAIN, "bench", ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

const TINY = ["--pages", "64", "--runs", "1", "--warmup", "0"];
const hasCc = Bun.which("cc") !== null;

function expectFigures(s: { min: number; median: number; max: number; faultsPerSec: number; runs: number[] }, runs: number) {
  expect(s.runs).toHaveLength(runs);
  for (const x of [s.min, s.median, s.max, ...s.runs]) {
    expect(Number.isFinite(x)).toBe(true);
    expect(x).toBeGreaterThan(0);
  }
  expect(s.min).toBeLessThanOrEqual(s.median);
  expect(s.median).toBeLessThanOrEqual(s.max);
  expect(s.faultsPerSec).toBeGreaterThan(0);
}

describe("uffd-suite bench", () => {
  test("--json: every kind and mode, Bun figures, Worker start cost", () => {
    const r = bench([...TINY, "--json"]);
    expect(r.err).not.toContain("error");
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.pages).toBe(64);
    expect(rep.c).toBeNull();
    const seen = rep.cases.map((c: { kind: string; mem: string; mode: string }) => `${c.kind} ${c.mem} ${c.mode}`);
    const skipped = rep.skipped.map((s: { kind: string; mem: string }) => `${s.kind} ${s.mem}`);
    // Only a feature this kernel really lacks may skip a bench case, and the reason names it.
    const kernel = probeFeatures();
    for (const s of rep.skipped as { kind: string; mem: string; reason: string }[]) {
      const m = /^feature missing: (.+)$/.exec(s.reason);
      if (m === null) throw new Error(`${s.kind} ${s.mem} skipped for another reason: ${s.reason}`);
      for (const name of m[1]!.split(", ")) {
        expect(Object.keys(FEATURE_BITS)).toContain(name);
        expect(kernel.missing([name as FeatureName])).toEqual([name as FeatureName]);
      }
    }
    // Needs nothing beyond userfaultfd itself: a skip here would hide a broken bench.
    expect(skipped).not.toContain("missing+copy anon");
    for (const k of ["missing+copy anon", "missing+copy shmem", "missing+zeropage anon", "wp anon", "minor shmem"]) {
      if (skipped.includes(k)) continue;
      expect(seen).toContain(`${k} poll`);
      expect(seen).toContain(`${k} read`);
    }
    for (const c of rep.cases) {
      expectFigures(c.bun, 1);
      expect(c.c).toBeUndefined();
    }
    expectFigures(rep.workerStartMs.handler, 5);
    expectFigures(rep.workerStartMs.faulter, 5);
    expect(rep.machine.loadStart).toHaveLength(3);
  });

  test.skipIf(!hasCc)("--vs-c: C built and run alternately, ratios, the closing line", () => {
    const r = bench(["--pages", "64", "--runs", "2", "--warmup", "0", "--vs-c", "--kinds", "missing+copy,minor", "--modes", "poll"]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines.at(-1)).toMatch(/^bun\/c missing\+copy poll: \d+\.\d\d$/);
    expect(r.out).toContain("C reference: bench/fault-bench.c built with");
    expect(r.out).toMatch(/^ {2}missing\+copy anon poll +\d+\.\d\d +\[\d+\.\d\d \d+\.\d\d\] +\d+\.\d\d$/m);
    expect(r.out).toMatch(/^ {2}missing\+copy shmem poll /m);
    expect(r.out).toMatch(/^ +c +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +[\d,]+ +\d+\.\d\d$/m);
  });

  test.skipIf(!hasCc)("--vs-c --json --scaling: C figures and ratios per case, 6 scaling rows", () => {
    const r = bench([...TINY, "--vs-c", "--json", "--scaling", "--kinds", "wp", "--modes", "read", "--c-loop", "batch"]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.c.loop).toBe("batch");
    for (const c of [...rep.cases, ...rep.scaling]) {
      expectFigures(c.c, 1);
      expect(c.ratios).toHaveLength(1);
      expect(c.ratio).toBeGreaterThan(0);
    }
    expect(rep.scaling.map((s: { faulters: number; handlers: number }) => `${s.faulters}/${s.handlers}`)).toEqual([
      "1/1",
      "2/1",
      "4/1",
      "1/2",
      "2/2",
      "4/2",
    ]);
  });

  test("--vs-c without a C compiler says so and prints Bun figures alone", () => {
    const r = bench([...TINY, "--vs-c", "--kinds", "missing+zeropage", "--modes", "poll"], { CC: "uffd-suite-no-such-cc" });
    expect(r.code).toBe(0);
    expect(r.out).toContain("no C compiler");
    expect(r.out).toMatch(/^missing\+zeropage +anon +poll +bun /m);
    expect(r.out).not.toContain("bun/c");
  });

  test("--pin runs every thread on one CPU", () => {
    const r = bench([...TINY, "--pin", "0", "--kinds", "missing+copy", "--modes", "read", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).machine.pinned).toBe("--pin 0");
  });

  test("bad values are usage errors (exit 2)", () => {
    for (const args of [
      ["--pages", "x"],
      ["--kinds", "nope"],
      ["--modes", "poll,blocking"],
      ["--c-loop", "fast"],
      ["--runs", "0"],
      ["--pin", "5000"],
      ["--pin", "x"],
    ]) {
      const r = bench(args);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toStartWith("uffd-suite: ");
    }
  });
});
