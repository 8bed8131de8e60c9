// Cases side by side (--jobs): the same names, order and verdicts as one at a
// time, and cases that must not share the machine never overlap (start and
// end times recorded by the case processes themselves). The scheduler's rules
// (jobs, alone, THP, huge pages, memory) are checked on their own too.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findCase } from "../src/unit/plan.ts";
import { KtapSink } from "../src/report/ktap.ts";
import { runUnit } from "../src/unit/runner.ts";
import { Admission, type CaseNeeds, hugepagesWanted } from "../src/unit/schedule.ts";
import type { UnitCase } from "../src/unit/case.ts";
import { FEATURE_BITS, type FeatureName } from "../src/uffd/constants.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";

describe("admission (no processes)", () => {
  const plain: CaseNeeds = { hugepages: 0, thp: false, alone: false, memoryMiB: 100 };
  const budget = { jobs: 3, memoryMiB: 1000 };

  test("up to `jobs` plain cases; anything may start when nothing runs", () => {
    const a = new Admission(budget);
    expect(a.blocker({ ...plain, alone: true, hugepages: 99, memoryMiB: 1e9 })).toBeUndefined();
    for (const i of [0, 1, 2]) {
      expect(a.blocker(plain)).toBeUndefined();
      a.start(i, plain);
    }
    expect(a.blocker(plain)).toBe("jobs");
    a.finish(1);
    expect(a.blocker(plain)).toBeUndefined();
    expect(() => a.start(0, plain)).toThrow("started twice");
  });

  test("a case that must run alone neither joins nor is joined", () => {
    const a = new Admission(budget);
    a.start(0, plain);
    expect(a.blocker({ ...plain, alone: true })).toBe("alone");
    a.finish(0);
    a.start(1, { ...plain, alone: true });
    expect(a.blocker(plain)).toBe("alone");
  });

  test("one THP case at a time; one hugetlb case at a time (beside others); memory within its budget", () => {
    const a = new Admission(budget);
    a.start(0, { ...plain, thp: true });
    expect(a.blocker({ ...plain, thp: true })).toBe("thp");
    expect(a.blocker({ ...plain, hugepages: 10 })).toBeUndefined();
    a.start(1, { ...plain, hugepages: 6 });
    expect(a.blocker({ ...plain, hugepages: 1 })).toBe("hugepages");
    expect(a.blocker(plain)).toBeUndefined();
    expect(a.blocker({ ...plain, memoryMiB: 801 })).toBe("memory");
    expect(a.blocker({ ...plain, memoryMiB: 800 })).toBeUndefined();
    expect(a.hugepagesHeld).toBe(6);
    a.finish(1);
    expect(a.blocker({ ...plain, hugepages: 1 })).toBeUndefined();
  });

  test("huge pages reserved up front: the largest need", () => {
    const n = (hugepages: number): CaseNeeds => ({ ...plain, hugepages });
    expect(hugepagesWanted([n(0), n(16), n(4), n(32), n(2)])).toBe(32);
    expect(hugepagesWanted([n(0)])).toBe(0);
    expect(hugepagesWanted([])).toBe(0);
  });
});

// Real cases on the memory types that need no machine settings, the THP
// cases among them, and test-only cases that must run alone.
const NAMES = [
  "testonly-alone-a",
  "register-ioctls",
  "zeropage",
  "move",
  "move-pmd",
  "testonly-sleep",
  "move-pmd-split",
  "minor",
  "minor-collapse",
  "testonly-alone-b",
  "selftest-pass",
  "selftest-fail",
  "testonly-skip",
  "events",
];

const dir = mkdtempSync(join(tmpdir(), "uffd-parallel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Sent {
  readonly case: string;
  readonly mem: string | null;
  readonly startedAt: number;
  readonly endedAt: number;
}

async function run(jobs: number): Promise<{ text: string; sent: Sent[] }> {
  const log = join(dir, `jobs-${jobs}.log`);
  const saved = { t: process.env.UFFD_SUITE_TEST_CASES, l: process.env.UFFD_SUITE_RECORD_LOG };
  process.env.UFFD_SUITE_TEST_CASES = "1";
  process.env.UFFD_SUITE_RECORD_LOG = log;
  let text = "";
  try {
    // Without hugetlb: free huge pages change with other runs on the machine, and the verdicts with them.
    const cases = NAMES.map((n) => findCase(n)!).map(
      (c): UnitCase => (c.memory === "none" ? c : { ...c, memory: c.memory.filter((m) => !m.startsWith("hugetlb")) }),
    );
    const ktap = new KtapSink((t) => (text += t));
    await runUnit({ cases, timeoutS: 60, setup: false, isolate: true, jobs, sink: ktap });
    ktap.totals();
  } finally {
    if (saved.t === undefined) delete process.env.UFFD_SUITE_TEST_CASES;
    else process.env.UFFD_SUITE_TEST_CASES = saved.t;
    if (saved.l === undefined) delete process.env.UFFD_SUITE_RECORD_LOG;
    else process.env.UFFD_SUITE_RECORD_LOG = saved.l;
  }
  return {
    text,
    sent: readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
  };
}

/** Each result: number, name and verdict (a skip with its reason). */
function verdicts(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => /^(not )?ok \d+ /.test(l))
    .map((l) => l.replace(/^(not ok|ok) \d+ ([^#]*?)(\s*# SKIP (.*))?(\s*#.*)?$/, "$1|$2|$4"));
}

/** The cases that must run alone, and the THP cases, among NAMES. */
const ALONE = ["testonly-alone-a", "testonly-alone-b"];
const THP = ["move-pmd", "move-pmd-split", "minor-collapse"];

/**
 * The expected verdicts, in order, written out: "ok|name|", "not ok|name|",
 * or "ok|name|skip reason". Only selftest-fail fails and only testonly-skip
 * skips; beyond them a case may skip only for a feature this kernel lacks,
 * and minor-collapse also where MADV_COLLAPSE cannot collapse here.
 */
const EXPECTED = [
  "ok|testonly-alone-a|",
  "ok|register-ioctls on anon|",
  "ok|register-ioctls on shmem|",
  "ok|register-ioctls on shmem-private|",
  "ok|zeropage on anon|",
  "ok|zeropage on shmem|",
  "ok|zeropage on shmem-private|",
  "ok|move on anon|",
  "ok|move-pmd on anon|",
  "ok|testonly-sleep|",
  "ok|move-pmd-split on anon|",
  "ok|minor on shmem|",
  "ok|minor-collapse on shmem|",
  "ok|testonly-alone-b|",
  "ok|selftest-pass|",
  "not ok|selftest-fail|",
  "ok|testonly-skip|test only: skips on purpose",
  "ok|events on anon|",
  "ok|events on shmem|",
  "ok|events on shmem-private|",
];

function expectVerdicts(text: string): void {
  const kernel = probeFeatures();
  const seen = verdicts(text);
  expect(seen.map((v) => v.split("|").slice(0, 2).join("|"))).toEqual(EXPECTED.map((v) => v.split("|").slice(0, 2).join("|")));
  for (const [i, v] of seen.entries()) {
    if (v === EXPECTED[i]) continue;
    const [status, name, reason] = v.split("|") as [string, string, string];
    const allowed =
      status === "ok" &&
      EXPECTED[i] === `ok|${name}|` &&
      (/^minor-collapse /.test(name) &&
      /^MADV_COLLAPSE (not supported \(EINVAL\)|could not get a huge page \((EAGAIN|ENOMEM)\))$/.test(reason)
        ? true
        : /^feature missing: /.test(reason) &&
          reason
            .slice("feature missing: ".length)
            .split(", ")
            .every((f) => f in FEATURE_BITS && kernel.missing([f as FeatureName]).length === 1));
    if (!allowed) throw new Error(`result ${i + 1}: expected ${EXPECTED[i]}, seen ${v}\n${text}`);
    console.log(`# ${name}: skipped (${reason})`);
  }
}

const overlap = (a: Sent, b: Sent) => a.startedAt < b.endedAt && b.startedAt < a.endedAt;
const label = (s: Sent) => (s.mem ? `${s.case} on ${s.mem}` : s.case);

describe("--jobs 3 against --jobs 1", () => {
  test("same names, order and verdicts; alone and THP cases never overlap what they must not", async () => {
    const serial = await run(1);
    const parallel = await run(3);
    expect(verdicts(serial.text)).toHaveLength(20);
    expectVerdicts(serial.text);
    expect(verdicts(parallel.text)).toEqual(verdicts(serial.text));
    expect(parallel.text.split("\n").filter((l) => !/^(not )?ok \d+ |^# /.test(l))).toEqual(
      serial.text.split("\n").filter((l) => !/^(not )?ok \d+ |^# /.test(l)),
    );

    const s = parallel.sent;
    // Written out, not read from the catalogue under test; the catalogue must agree.
    const alone = s.filter((x) => ALONE.includes(x.case));
    const thp = s.filter((x) => THP.includes(x.case));
    expect(alone.map(label).sort()).toEqual(["testonly-alone-a", "testonly-alone-b"]);
    expect(thp.map(label).sort()).toEqual(["minor-collapse on shmem", "move-pmd on anon", "move-pmd-split on anon"]);
    expect(s.filter((x) => findCase(x.case, { UFFD_SUITE_TEST_CASES: "1" })?.alone).map(label)).toEqual(alone.map(label));
    expect(s.filter((x) => findCase(x.case)?.thp).map(label)).toEqual(thp.map(label));
    for (const a of alone) {
      const beside = s.filter((x) => x !== a && overlap(a, x)).map(label);
      expect({ case: label(a), beside }).toEqual({ case: label(a), beside: [] });
    }
    for (const a of thp) {
      const beside = thp.filter((x) => x !== a && overlap(a, x)).map(label);
      expect({ case: label(a), beside }).toEqual({ case: label(a), beside: [] });
    }
    // It did run cases side by side.
    const pairs = s.flatMap((a, i) => s.slice(i + 1).filter((b) => overlap(a, b)));
    expect(pairs.length).toBeGreaterThan(0);
    // One at a time: no overlap at all.
    const serialPairs = serial.sent.flatMap((a, i) => serial.sent.slice(i + 1).filter((b) => overlap(a, b)));
    expect(serialPairs).toEqual([]);
  }, 120_000);
});

describe("--jobs usage", () => {
  const MAIN = join(import.meta.dir, "../src/main.ts");
  const bad: Array<[string[], string]> = [
    [["unit", "--jobs", "0"], "--jobs wants a whole number of cases >= 1, not '0'"],
    [["unit", "-j", "1.5"], "--jobs wants a whole number of cases >= 1, not '1.5'"],
    [["unit", "--jobs", "2000"], "--jobs 2000 is too many (at most 1024)"],
    [["unit", "--no-isolate", "--jobs", "2"], "--jobs above 1 needs each case in its own process (leave out --no-isolate)"],
    [["run", "--jobs", "x"], "--jobs wants a whole number of cases >= 1, not 'x'"],
  ];
  for (const [args, msg] of bad) {
    test(args.join(" "), () => {
      const p = Bun.spawnSync([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe" });
      expect(p.exitCode).toBe(2);
      expect(p.stdout.toString()).toBe("");
      expect(p.stderr.toString()).toMatch(
        new RegExp(`^uffd-suite: ${msg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(see uffd-suite (unit|run) --help\\)\\n$`),
      );
    });
  }
});
