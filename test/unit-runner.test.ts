// The unit runner on the real kernel: the catalogue's cases, isolation of
// crashes and hangs, KTAP as parsers read it, the command's usage errors.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { MEMORY_NAMES, type MemoryName } from "../src/harness/memory.ts";
import { ktapResultLine, KtapSink, ktapTotals } from "../src/report/ktap.ts";
import { FEATURE_BITS } from "../src/uffd/constants.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";
import { UNIT_CASES } from "../src/unit/catalogue.ts";
import { planCases } from "../src/unit/plan.ts";
import { runUnit } from "../src/unit/runner.ts";
import { childEnv, MAIN, REPO } from "./support/binary.ts";
import { parseStrictTap } from "./support/ktap.ts";
import { marked, newMarker, untilEmpty } from "./support/system.ts";

type Marker = ReturnType<typeof newMarker>;

const LINARO = /^(?:# )*(not )?ok (?:\d+) ([^#]+)(# (SKIP)?)?/;

/** The 67 result names of the C uffd-unit-tests on a full kernel, in its order. */
const ALL = MEMORY_NAMES;
const C_TABLE: ReadonlyArray<readonly [string, readonly MemoryName[] | null]> = [
  ["UFFDIO_API (with syscall)", null],
  ["UFFDIO_API (with /dev/userfaultfd)", null],
  ["register-ioctls", ALL],
  ["zeropage", ALL],
  ["move", ["anon"]],
  ["move-pmd", ["anon"]],
  ["move-pmd-split", ["anon"]],
  ["wp-fork", ALL],
  ["wp-fork-with-event", ALL],
  ["wp-fork-pin", ALL],
  ["wp-fork-pin-with-event", ALL],
  ["wp-unpopulated", ["anon"]],
  ["minor", ["shmem", "hugetlb"]],
  ["minor-wp", ["shmem", "hugetlb"]],
  ["minor-collapse", ["shmem"]],
  ["sigbus", ALL],
  ["sigbus-wp", ALL],
  ["events", ALL],
  ["events-wp", ALL],
  ["poison", ALL],
  ["mmap-changing", ["shmem"]],
];
const C_NAMES = C_TABLE.flatMap(([t, mems]) => (mems ? mems.map((m) => `${t} on ${m}`) : [t]));

/** The cases this file's runner tests cover per memory type (the others have their own tests). */
const QUICK: Readonly<Record<MemoryName, readonly string[]>> = {
  anon: ["register-ioctls", "zeropage", "move", "wp-unpopulated"],
  shmem: ["register-ioctls", "zeropage", "minor", "mmap-changing"],
  "shmem-private": ["register-ioctls", "zeropage"],
  hugetlb: ["register-ioctls", "zeropage", "minor"],
  "hugetlb-private": ["register-ioctls", "zeropage"],
};

/** A child's environment: ours less the test switches but the pause, which these runs pass on as before. */
const plainEnv = (extra: Record<string, string> = {}) => childEnv(extra, { keep: ["UFFD_SUITE_TEST_PAUSE_MS"] });

function cli(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd: REPO, env: plainEnv(env), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** Every result line must give its name to the Linaro kselftest regex, skips included. */
function linaroNames(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => /^(not )?ok \d+ /.test(l))
    .map((l) => {
      const m = LINARO.exec(l);
      expect(m).not.toBeNull();
      return m![2]!.trim();
    });
}

async function collect(opts: { filter?: string; mems?: MemoryName[]; isolate?: boolean; timeoutS?: number }): Promise<string> {
  let text = "";
  const ktap = new KtapSink((t) => (text += t));
  await runUnit({
    timeoutS: opts.timeoutS ?? 60,
    setup: true,
    isolate: opts.isolate ?? true,
    filter: opts.filter,
    mems: opts.mems,
    sink: ktap,
  });
  ktap.totals();
  return text;
}

/** Pass, or skip naming what is missing; anything else fails the test with the KTAP text. */
function expectPassOrNamedSkip(text: string): void {
  const { asserts, result } = parseStrictTap(text);
  expect(asserts.length).toBeGreaterThan(0);
  for (const a of asserts) {
    if (a.skip)
      expect(a.skip).toMatch(
        /^(feature missing: [A-Z_, ]+|not enough HugeTLB pages \(need \d+, free \d+\)|CONFIG_GUP_TEST missing|no hugetlb page size on this kernel|MADV_COLLAPSE not supported \(EINVAL\)|MADV_COLLAPSE could not get a huge page \((EAGAIN|ENOMEM)\))$/,
      );
    else if (!a.ok) throw new Error(`failed: ${a.name}\n${text}`);
  }
  expect(result.fail).toBe(0);
}

/**
 * Live case processes of the run carrying `marker` (the runner passes its
 * environment on to them), wherever they were reparented: "pid state cmdline".
 */
function caseProcesses(marker: Marker): string[] {
  return marked(marker).filter((l) => l.includes(`${MAIN} unit-case`) && !/^\d+ Z /.test(l));
}

/** Run the CLI without waiting on it synchronously, so its children can be watched. */
async function cliAsync(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([process.execPath, MAIN, ...args], { cwd: REPO, env: plainEnv(env), stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out, err, pid: p.pid };
}

describe("KTAP writer", () => {
  test("result lines, skips with their names, directives, totals", () => {
    expect(ktapResultLine(3, "zeropage on anon", "pass")).toBe("ok 3 zeropage on anon");
    expect(ktapResultLine(9, "move on anon", "skip", "feature missing: MOVE")).toBe("ok 9 move on anon # SKIP feature missing: MOVE");
    expect(ktapResultLine(12, "events on hugetlb", "fail", "crashed: SIGSEGV")).toBe("not ok 12 events on hugetlb # crashed: SIGSEGV");
    // A '#' or a newline can never cut a name short.
    expect(ktapResultLine(1, "a#b\nc", "pass")).toBe("ok 1 ab c");
    expect(ktapTotals({ pass: 57, fail: 1, skip: 9 })).toBe("# Totals: pass:57 fail:1 xfail:0 xpass:0 skip:9 error:0");
    let text = "";
    const w = new KtapSink((t) => (text += t));
    w.plan(2);
    w.result({ name: "x on anon", part: "unit", memory: "anon", status: "fail", diagnostics: ["expected 1", "seen 2\nand more"] });
    w.result({ name: "y", part: "unit", memory: null, status: "skip", reason: "feature missing: POISON", diagnostics: [] });
    w.totals();
    expect(text).toBe(
      "TAP version 13\n1..2\n# expected 1\n# seen 2\n# and more\nnot ok 1 x on anon\nok 2 y # SKIP feature missing: POISON\n" +
        "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:1 error:0\n",
    );
    expect(linaroNames(text)).toEqual(["x on anon", "y"]);
  });
});

describe("quick subset per memory type (each case in its own process)", () => {
  for (const mem of MEMORY_NAMES) {
    test(`${mem}: ${QUICK[mem].join(", ")}`, async () => {
      let text = "";
      for (const name of QUICK[mem]) {
        const part = await collect({ filter: name, mems: [mem] });
        // -f is a substring: "move" also selects move-pmd and move-pmd-split.
        text += part;
        expectPassOrNamedSkip(part);
      }
      const names = linaroNames(text);
      for (const name of QUICK[mem]) expect(names).toContain(`${name} on ${mem}`);
    }, 60_000);
  }

  test("the API checks, in-process mode", async () => {
    const text = await collect({ filter: "UFFDIO_API", isolate: false });
    const { asserts } = parseStrictTap(text);
    expect(asserts.map((a) => a.name)).toEqual(["UFFDIO_API (with syscall)", "UFFDIO_API (with /dev/userfaultfd)"]);
    expectPassOrNamedSkip(text);
  });
});

describe("isolation", () => {
  test("a crash and a hang fail only their case; the run goes on, nothing is left running", async () => {
    const marker = newMarker();
    const r = await cliAsync(["unit", "-f", "selftest", "--timeout", "2", "--no-setup"], {
      UFFD_SUITE_TEST_CASES: "1",
      [marker.name]: marker.value,
    });
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split("\n");
    expect(lines).toContain("not ok 1 selftest-crash # crashed: SIGSEGV");
    expect(lines).toContain("not ok 2 selftest-hang on anon # TIMEOUT 2 s");
    expect(lines).toContain("not ok 3 selftest-fail");
    expect(lines).toContain("ok 4 selftest-pass");
    expect(lines.find((l) => l.startsWith("ok 5 "))).toMatch(
      /^ok 5 selftest-hugetlb-shortage on hugetlb # SKIP (not enough HugeTLB pages \(need 1000000, free \d+\)|no hugetlb page size on this kernel)$/,
    );
    // Diagnostics come before the result they explain.
    const failAt = lines.indexOf("not ok 3 selftest-fail");
    expect(lines[failAt - 1]).toBe("# planted value: expected 2, seen 1");
    expect(lines[lines.indexOf("not ok 1 selftest-crash # crashed: SIGSEGV") - 1]).toMatch(
      /^# selftest-crash: case process killed by SIGSEGV/,
    );
    const { asserts, result } = parseStrictTap(r.out);
    expect(result.plan.end).toBe(5);
    expect(asserts.map((a) => a.ok)).toEqual([false, false, false, true, true]);
    expect(linaroNames(r.out)).toEqual([
      "selftest-crash",
      "selftest-hang on anon",
      "selftest-fail",
      "selftest-pass",
      "selftest-hugetlb-shortage on hugetlb",
    ]);
    // No case process is left once the runner exits, reparented or not; nothing else started from the run either.
    expect(caseProcesses(marker)).toEqual([]);
    expect(await untilEmpty(() => marked(marker))).toEqual([]);
  }, 30_000);

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    test(`the runner killed by ${signal} while a case hangs: the case process and the spare go too`, async () => {
      // selftest-hang, then selftest-hugetlb-shortage: a spare case process waits while the first hangs.
      const marker = newMarker();
      const p = Bun.spawn([process.execPath, MAIN, "unit", "-f", "selftest-h", "--no-setup", "--jobs", "1"], {
        cwd: REPO,
        env: plainEnv({ UFFD_SUITE_TEST_CASES: "1", [marker.name]: marker.value }),
        stdout: "pipe",
        stderr: "pipe",
      });
      const t0 = performance.now();
      while (caseProcesses(marker).length < 2 && performance.now() - t0 < 10_000) await Bun.sleep(50);
      expect(caseProcesses(marker)).toHaveLength(2);
      await Bun.sleep(300); // well inside the case: its Worker waits in the fault
      p.kill(signal);
      await p.exited;
      // Found by the marker, not by parent: a subreaper adopting orphans cannot hide them.
      expect(await untilEmpty(() => marked(marker))).toEqual([]);
    }, 20_000);
  }

  test("test-only cases are never listed or run without UFFD_SUITE_TEST_CASES=1", () => {
    expect(cli(["unit", "-l"]).out).not.toContain("selftest");
    expect(cli(["unit", "-f", "selftest"]).code).toBe(2);
    expect(cli(["unit", "-l"], { UFFD_SUITE_TEST_CASES: "1" }).out).toContain("selftest-crash");
  });

  test("only a shortage of huge pages: the case skips naming it, exit 4 (nothing ran)", () => {
    const r = cli(["unit", "-f", "selftest-hugetlb", "--no-setup"], { UFFD_SUITE_TEST_CASES: "1" });
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/^ok 1 selftest-hugetlb-shortage on hugetlb # SKIP /m);
    expect(r.out).toContain("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0");
  });
});

describe("every check of these cases can fail (planted faults)", () => {
  test("register-ioctls, zeropage, move*, wp-unpopulated, minor*, mmap-changing and the API checks report not ok", () => {
    const plant = { UFFD_SUITE_PLANT: "errno,ioctls,content,fault-count,pagemap-wp" };
    const mine = ["UFFDIO_API", "register-ioctls", "zeropage", "move", "wp-unpopulated", "minor", "mmap-changing"];
    const results: string[] = [];
    for (const f of mine) {
      const mem = f === "UFFDIO_API" ? [] : ["--mem", "anon,shmem"];
      const r = cli(["unit", "-f", f, ...mem, "--no-setup"], plant);
      results.push(...r.out.split("\n").filter((l) => /^(not )?ok /.test(l)));
    }
    const ran = results.filter((l) => !l.includes("# SKIP"));
    expect(ran.length).toBeGreaterThanOrEqual(12);
    // Under planted faults nothing of these passes.
    expect(ran.filter((l) => l.startsWith("ok "))).toEqual([]);
  }, 60_000);
});

describe("uffd-suite unit (command)", () => {
  test("-l lists every case once with its memory types, source file and description", () => {
    const r = cli(["unit", "-l"]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines.map((l) => l.split(/ {2,}/)[0])).toEqual(UNIT_CASES.map((c) => c.name));
    const zp = lines.find((l) => l.startsWith("zeropage "))!;
    expect(zp).toContain("anon,shmem,shmem-private,hugetlb,hugetlb-private");
    expect(zp).toContain("UFFDIO_ZEROPAGE");
    expect(lines.find((l) => l.startsWith("mmap-changing "))).toMatch(/ shmem +src\/unit\/cases\/mmap-changing\.ts +while a REMOVE event/);
    expect(
      cli(["unit", "-l", "-f", "move"])
        .out.trimEnd()
        .split("\n")
        .map((l) => l.split(" ")[0]),
    ).toEqual(["move", "move-pmd", "move-pmd-split"]);
  });

  test("--origin kernel plans exactly the C suite's 67 names", () => {
    expect(planCases(UNIT_CASES, { origin: "kernel" }).map((e) => e.name)).toEqual(C_NAMES);
    expect(
      cli(["unit", "-l", "--origin", "kernel"])
        .out.trimEnd()
        .split("\n")
        .map((l) => l.split(/ {2,}/)[0]),
    ).toEqual(C_TABLE.map(([t]) => t));
  });

  // Bad usage (one line, exit 2): test/bad-input.test.ts.

  test("the whole catalogue: the C suite's names, KTAP for every parser, no failure", () => {
    const before = readFileSync("/proc/sys/vm/nr_hugepages", "utf8");
    const t0 = performance.now();
    const r = cli(["unit"]);
    const secs = (performance.now() - t0) / 1000;
    expect(readFileSync("/proc/sys/vm/nr_hugepages", "utf8")).toBe(before);
    if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.out}\n${r.err.slice(-3000)}`);
    // stdout holds results only.
    for (const l of r.out.trimEnd().split("\n")) expect(l).toMatch(/^(TAP version 13|1\.\.\d+|(not )?ok \d+ .+|# .*)$/);
    const { asserts, result } = parseStrictTap(r.out);
    // The C suite's 67 first, in its order; then ours (origin "suite").
    const ours = planCases(UNIT_CASES, { origin: "suite" }).map((e) => e.name);
    expect(asserts.map((a) => a.name)).toEqual([...C_NAMES, ...ours]);
    expect(linaroNames(r.out)).toEqual([...C_NAMES, ...ours]);
    expect(result.plan.end).toBe(67 + ours.length);
    expectPassOrNamedSkip(r.out);
    const totals = /^# Totals: pass:(\d+) fail:(\d+) xfail:0 xpass:0 skip:(\d+) error:0$/m.exec(r.out);
    expect(totals).not.toBeNull();
    expect(Number(totals![1]) + Number(totals![3])).toBe(67 + ours.length);
    const kernelPassed = asserts.slice(0, 67).filter((a) => a.ok && !a.skip).length;
    const full = probeFeatures().missing([...FEATURE_BITS]).length === 0 && process.getuid?.() === 0;
    if (full) {
      expect(kernelPassed).toBeGreaterThanOrEqual(57);
      for (const a of asserts.filter((x) => x.name.startsWith("wp-fork-pin"))) {
        if (a.skip) expect(a.skip).toBe("CONFIG_GUP_TEST missing");
      }
    }
    console.log(
      `# whole unit catalogue: ${totals![1]} pass (${kernelPassed} of the C suite's 67), ${totals![3]} skip in ${secs.toFixed(1)} s`,
    );
  }, 180_000);
});
