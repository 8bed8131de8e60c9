// The stress command on the real kernel, run as a child process (a hang or a
// crash stays in the child): every memory type passes a short run, planted
// corruption and a write-first touch fail it, the EEXIST repeat is hit, bad
// input exits 2 with one line and changes nothing.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MEMORY, MEMORY_NAMES } from "../src/harness/memory.ts";
import { WorkerPool } from "../src/harness/pool.ts";
import { defaultGroups, stressGeometry } from "../src/stress/geometry.ts";
import { bounceModeLabel } from "../src/stress/protocol.ts";
import { runStress } from "../src/stress/stress.ts";
import { KtapSink } from "../src/report/ktap.ts";
import { type Result, section } from "../src/report/result.ts";
import { VMTESTS_STRESS } from "../src/suite/vmtests.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";

const MAIN = join(import.meta.dir, "..", "src/main.ts");
const KSELFTEST = /^(?:# )*(not )?ok (?:\d+) ([^#]+)(# (SKIP)?)?/;

function env(extra: Record<string, string> = {}): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("UFFD_SUITE_")) e[k] = v;
  return { ...e, ...extra };
}

// Killed by 50 s: before the 60 s test limit, so the test still reports what the run wrote.
async function cli(args: string[], extra: Record<string, string> = {}, timeoutMs = 50_000) {
  const p = Bun.spawn([process.execPath, MAIN, ...args], { env: env(extra), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, out, err };
}

const nrHugepages = () => readFileSync("/proc/sys/vm/nr_hugepages", "utf8").trim();
const kernel = probeFeatures();

/** Parse a stress run's KTAP: bounce lines, summary totals, the result line. */
function parse(out: string) {
  const lines = out.trimEnd().split("\n");
  const bounces = lines.filter((l) => l.startsWith("# bounce "));
  const summary = /# (\d+) bounces: (\d+) missing and (\d+) wp faults served, (\d+) locks, (\d+) repeat copies gave EEXIST/.exec(out);
  return {
    lines,
    bounces,
    summary: summary && {
      bounces: +summary[1]!,
      missing: +summary[2]!,
      wp: +summary[3]!,
      locks: +summary[4]!,
      eexist: +summary[5]!,
    },
  };
}

describe("stress passes on every memory type", () => {
  for (const name of MEMORY_NAMES) {
    test(`${name} 8 16: 16 bounces in the C's order of modes, faults counted, KTAP well formed`, async () => {
      const mem = MEMORY[name];
      const before = nrHugepages();
      const r = await cli(["stress", name, "8", "16", "--eexist-interval", "0"]);
      expect(nrHugepages()).toBe(before);
      if (mem.missingFeature && !kernel.has(mem.missingFeature)) {
        expect(r.code).toBe(4);
        expect(r.out).toContain(`ok 1 stress ${name} 8 16 # SKIP feature missing`);
        return;
      }
      expect(r.err).toBe(""); // piped: no progress line
      expect(r.code).toBe(0);
      const { lines, bounces, summary } = parse(r.out);
      expect(lines.slice(0, 2)).toEqual(["TAP version 13", "1..1"]);
      expect(lines.at(-2)).toBe(`ok 1 stress ${name} 8 16`);
      expect(lines.at(-1)).toBe("# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0");
      expect(KSELFTEST.exec(lines.at(-2)!)?.[2]?.trim()).toBe(`stress ${name} 8 16`);
      // Bounces count down from 15; the remaining count's bits pick the mode.
      expect(bounces.map((l) => /^# bounce (\d+) ([a-z ]+):/.exec(l)?.slice(1, 3).join(" "))).toEqual(
        Array.from({ length: 16 }, (_, i) => `${15 - i} ${bounceModeLabel(15 - i)}`),
      );
      // Each bounce line's per-handler numbers add up to its total.
      let missing = 0;
      let wp = 0;
      for (const l of bounces) {
        for (const m of l.matchAll(/(\d+) (missing|wp) \(([\d+]+)\)/g)) {
          const parts = m[3]!.split("+").map(Number);
          expect(parts).toHaveLength(defaultGroups());
          expect(parts.reduce((a, b) => a + b, 0)).toBe(+m[1]!);
          if (m[2] === "missing") missing += +m[1]!;
          else wp += +m[1]!;
        }
      }
      expect(summary).not.toBeNull();
      expect(summary!.bounces).toBe(16);
      expect(summary!.missing).toBe(missing);
      expect(summary!.wp).toBe(wp);
      expect(summary!.locks).toBeGreaterThan(0);
      // WP is stressed by default where the kernel can: every lock writes, so copies made with MODE_WP fault.
      const wpOn = kernel.missing(mem.wpFeature ? ["PAGEFAULT_FLAG_WP", mem.wpFeature] : ["PAGEFAULT_FLAG_WP"]).length === 0;
      expect(r.out).toContain(`write-protect ${wpOn ? "on" : "off"}`);
      if (wpOn) expect(wp).toBeGreaterThan(0);
      // Interval 0: a deliberate repeat at the first successful background
      // copy of each bounce (a handler may win every page of a tiny slice), each gave EEXIST.
      expect(summary!.eexist).toBeGreaterThan(0);
      expect(summary!.eexist).toBeLessThanOrEqual(16);
    }, 60_000);
  }
});

test("--no-wp: no wp faults, and the header says so", async () => {
  const r = await cli(["stress", "anon", "16", "8", "--no-wp"]);
  expect(r.code).toBe(0);
  expect(r.out).toContain("write-protect off");
  expect(parse(r.out).summary!.wp).toBe(0);
  expect(r.out).not.toMatch(/ wp \(/);
});

test("a wrong counter planted in one page fails the run (verify bounce or locking loop)", async () => {
  const r = await cli(["stress", "anon", "8", "8"], { UFFD_SUITE_PLANT: "counter" });
  expect(r.code).toBe(1);
  expect(r.out).toContain("planted a wrong counter in page 1024");
  expect(r.out).toMatch(/page 1024 (memory corruption: )?counter 2, expected 1/);
  expect(r.out).toContain("\nnot ok 1 stress anon 8 8\n");
  expect(r.out).toContain("# Totals: pass:0 fail:1");
});

test("a page holding another page's data fails the verify pass (which alone reads the tags)", async () => {
  const r = await cli(["stress", "anon", "8", "8"], { UFFD_SUITE_PLANT: "page-tag" });
  expect(r.code).toBe(1);
  expect(r.out).toContain("planted page 1025's tag in page 1024");
  expect(r.out).toMatch(/^# verify after bounce \d+ \([^)]*\): page 1024 holds page 1025's data$/m);
  expect(r.out).toContain("\nnot ok 1 stress anon 8 8\n");
});

test("a missing fault with the WRITE flag fails the run, and the run still ends", async () => {
  // The locking loops store before locking: the handler refuses, stops; the rest must not hang.
  const r = await cli(["stress", "shmem", "8", "4"], { UFFD_SUITE_PLANT: "write-first" }, 45_000);
  expect(r.code).toBe(1);
  expect(r.out).toContain("unexpected write fault");
  expect(r.out).toContain("\nnot ok 1 stress shmem 8 4\n");
});

test("the deliberate repeat copy is hit on a timer and gives EEXIST", async () => {
  const r = await cli(["stress", "shmem", "16", "6", "--eexist-interval", "0.005"]);
  expect(r.code).toBe(0);
  expect(parse(r.out).summary!.eexist).toBeGreaterThan(0);
});

describe("bad input: one line on stderr, exit 2, nothing on stdout, nothing changed", () => {
  const cases: [string[], string][] = [
    [["stress", "tmpfs", "20", "16"], "unknown memory type 'tmpfs'"],
    [["stress", "anon", "abc", "16"], "size must be a whole number of MiB, got 'abc'"],
    [["stress", "anon", "0", "16"], "size must be at least 1 MiB"],
    [["stress", "anon", "20", "0"], "bounces must be at least 1, got '0'"],
    [["stress", "anon", "20", "x2"], "bounces must be a whole number, got 'x2'"],
    [["stress", "anon", "20", "1.5"], "bounces must be a whole number"],
    [["stress", "hugetlb", "2", "4"], "size 2 MiB is too small"],
    [["stress", "anon", "50000000", "4"], "size 50000000 MiB is too large"],
    [["stress", "hugetlb", "50000000", "4"], "size 50000000 MiB is too large"],
    [["stress", "anon", "20", "16", "--eexist-interval", "soon"], "--eexist-interval must be a number of seconds"],
    [["stress", "anon", "20"], "missing required positional argument"],
  ];
  for (const [args, says] of cases) {
    test(args.slice(1).join(" "), async () => {
      const before = nrHugepages();
      const r = await cli(args, {}, 20_000);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      const lines = r.err.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(says);
      expect(nrHugepages()).toBe(before);
    });
  }
});

describe("in process", () => {
  const pool = new WorkerPool();
  afterAll(() => pool.shutdown());

  test("Workers come from the pool: 16 bounces start no more Workers than one bounce", async () => {
    const g = stressGeometry(MEMORY.anon, 4)!;
    const notes: string[] = [];
    const run = (bounces: number) =>
      runStress({ mem: MEMORY.anon, geometry: g, bounces, wp: true, eexistIntervalS: 10, note: (l) => notes.push(l), pool });
    const one = await run(1);
    expect(one.status).toBe("pass");
    const started = pool.started;
    // Locking loop, handler, copier per group, and one toucher for the blocking-read stop.
    expect(started).toBe(3 * g.groups + 1);
    const many = await run(16);
    expect(many.status).toBe("pass");
    expect(many.totals.bounces).toBe(16);
    expect(pool.started).toBe(started);
  }, 30_000);
});

test("run: another runner's results go on in one stream (its plan dropped, numbered on)", () => {
  let text = "";
  const top = new KtapSink((t) => (text += t));
  const unit = (name: string, r: Pick<Result, "status" | "reason">): Result => ({
    name,
    part: "unit",
    memory: null,
    diagnostics: [],
    ...r,
  });
  top.plan(5);
  top.result(unit("first", { status: "pass" }));
  top.result(unit("second", { status: "pass" }));
  text = "";
  // What a runner of one part does with the section it is given.
  const part = section(top);
  part.plan(3);
  part.note("diag");
  part.result({ ...unit("a on anon", { status: "pass" }), memory: "anon" });
  part.result(unit("b", { status: "fail", reason: "crashed: SIGSEGV" }));
  part.result(unit("c", { status: "skip", reason: "feature missing: MOVE" }));
  expect(text).toBe("# diag\nok 3 a on anon\nnot ok 4 b # crashed: SIGSEGV\nok 5 c # SKIP feature missing: MOVE\n");
  expect(top.planned).toBe(5);
  expect(top.outcome()).toBe("fail");
  expect(VMTESTS_STRESS.map((r) => `${r.mem} ${r.mib} ${r.bounces}`)).toEqual([
    "anon 20 16",
    "hugetlb H 32",
    "hugetlb-private H 32",
    "shmem 20 16",
    "shmem-private 20 16",
  ]);
});
