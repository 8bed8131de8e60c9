// Reports: the result stream kept as the result model, JSON and JUnit
// documents (the JUnit checked with an XML parser, as GitLab/Jenkins read
// it), --format/--output on every command, and the fit with kernel CI: the
// Linaro kselftest regex on real output, plain and nested by the kselftest
// runner (`# `-prefixed, exit 4 = SKIP).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { ReportCollector } from "../src/report/collect.ts";
import { renderJunit, xmlAttr } from "../src/report/junit.ts";
import type { RunReport } from "../src/report/model.ts";
import { MEMORY } from "../src/harness/memory.ts";
import { stressName } from "../src/stress/cli-run.ts";
import { allCases, planCases } from "../src/unit/plan.ts";
import { caseName, folioMemory } from "../src/wp-mremap/run.ts";
import { parseKtapResult } from "./support/ktap.ts";
import { childEnv, fromSource, REPO } from "./support/binary.ts";
import { underKselftestRunner } from "./support/kselftest-runner.ts";

const tmp = mkdtempSync(join(tmpdir(), "uffd-reports-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The Linaro test-definitions kselftest regex, as LKFT parses kselftest output. */
const LINARO = /^(?:# )*(not )?ok (?:\d+) ([^#]+)(# (SKIP)?)?/;

function cli(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([...fromSource(), ...args], { cwd: REPO, env: childEnv(env), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

const ktapResults = (text: string) =>
  text
    .split("\n")
    .filter((l) => /^(not )?ok \d+ /.test(l))
    .map((l) => parseKtapResult(l)!);

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  htmlEntities: true,
  isArray: (name) => ["testsuite", "testcase", "property"].includes(name),
});

/** Validate and parse a JUnit document; its test cases. */
function junitCases(doc: string): { suite: any; cases: any[] } {
  const valid = XMLValidator.validate(doc);
  if (valid !== true) throw new Error(`invalid XML: ${JSON.stringify(valid)}\n${doc}`);
  const parsed = xml.parse(doc);
  const suite = parsed.testsuites.testsuite[0];
  return { suite, cases: suite.testcase ?? [] };
}

// One real run with every kind of result: a crash, a hang past its limit, a
// failed check, a pass, a skip (test-only cases), kept for several tests below.
// One case at a time: a case's duration (time since the previous result) is then its own run time.
const selftest = cli(
  ["unit", "-f", "selftest", "--timeout", "2", "--no-setup", "--jobs", "1", "--format", "json", "-o", join(tmp, "selftest.json")],
  { UFFD_SUITE_TEST_CASES: "1" },
);

describe("the result stream kept as the result model", () => {
  test("records, reasons, diagnostics, durations (fake clock), notes joining the next result", () => {
    let now = 0;
    const c = new ReportCollector(() => now);
    c.plan(4);
    c.note("[INFO] a note");
    now = 250;
    c.result({ name: "zeropage on anon", part: "unit", memory: "anon", status: "pass", diagnostics: [] });
    now = 1250;
    c.result({
      name: "events on hugetlb-private",
      part: "unit",
      memory: "hugetlb-private",
      status: "fail",
      diagnostics: ["expected 1, seen 2"],
    });
    c.result({ name: "move on anon", part: "unit", memory: "anon", status: "skip", reason: "feature missing: MOVE", diagnostics: [] });
    now = 1300;
    const folio = { size: 4096, private: true, swapout: false, hugetlb: false };
    c.result({
      name: caseName(folio),
      part: "wp-mremap",
      memory: folioMemory({ ...folio }),
      status: "fail",
      reason: "TIMEOUT 60 s",
      diagnostics: [],
    });
    expect(c.records.map((r) => [r.n, r.name, r.memory, r.part, r.result, r.reason, r.duration, r.diagnostics])).toEqual([
      [1, "zeropage on anon", "anon", "unit", "pass", null, 0.25, ["[INFO] a note"]],
      [2, "events on hugetlb-private", "hugetlb-private", "unit", "fail", "expected 1, seen 2", 1, ["expected 1, seen 2"]],
      [3, "move on anon", "anon", "unit", "skip", "feature missing: MOVE", 0, []],
      [4, "test_one_folio(size=4096, private=true, swapout=false, hugetlb=false)", "anon", "wp-mremap", "fail", "TIMEOUT 60 s", 0.05, []],
    ]);
    expect(c.summary()).toMatchObject({ planned: 4, total: 4, pass: 1, fail: 2, skip: 1, interrupted: null });
  });

  test("names, reasons and diagnostics as the KTAP lines show them", () => {
    const c = new ReportCollector(() => 0);
    c.note("two\nlines  ");
    c.result({ name: "a # b\nc", part: "unit", memory: null, status: "skip", reason: "why\n#not", diagnostics: ["x  "] });
    c.result({ name: "d", part: "unit", memory: null, status: "skip", diagnostics: [] });
    c.result({ name: "e", part: "unit", memory: null, status: "fail", reason: "", diagnostics: [] });
    expect(c.records.map((r) => [r.name, r.reason, r.diagnostics])).toEqual([
      ["a b c", "why not", ["two", "lines", "x"]],
      ["d", "", []],
      ["e", null, []],
    ]);
  });

  test("memory types from every kind of result", () => {
    const api = planCases(allCases(), { filter: "UFFDIO_API" });
    expect(api.length).toBeGreaterThan(0);
    for (const e of api) expect(e.mem).toBeUndefined();
    const minor = planCases(allCases(), { filter: "minor", mems: ["shmem"] })[0]!;
    expect([minor.name, minor.mem?.name]).toEqual(["minor on shmem", "shmem"]);
    expect(stressName({ mem: MEMORY["shmem-private"], mib: 20, bounces: 16 })).toBe("stress shmem-private 20 16");
    expect(folioMemory({ size: 2097152, private: false, swapout: true, hugetlb: false })).toBe("shmem");
    expect(folioMemory({ size: 1073741824, private: true, swapout: false, hugetlb: true })).toBe("hugetlb-private");
  });
});

describe("JUnit XML", () => {
  test("escapes what XML forbids or reserves; a parser reads every value back", () => {
    const nasty = `a<b>&"c'd ]]> \u0001\u001f tab\there`;
    const report: RunReport = {
      tool: "uffd-suite",
      version: "0",
      command: "unit",
      kernel: { release: "6.18", arch: "x86_64" },
      hostname: "h",
      started: "2026-01-01T00:00:00.000Z",
      cases: [
        {
          n: 1,
          name: nasty,
          part: "unit",
          memory: "anon",
          result: "fail",
          reason: nasty,
          duration: 0.5,
          diagnostics: [nasty, "line 2 </failure>"],
        },
        { n: 2, name: "b", part: "unit", memory: null, result: "skip", reason: "feature missing: <MOVE>", duration: 0, diagnostics: [] },
        { n: 3, name: "c", part: "stress", memory: "shmem", result: "pass", reason: null, duration: 1.25, diagnostics: ["bounce 1 & 2"] },
      ],
      summary: { planned: 3, total: 3, pass: 1, fail: 1, skip: 1, duration: 1.75, interrupted: null },
    };
    const { suite, cases } = junitCases(renderJunit(report));
    const shown = nasty.replace(/[\u0001\u001f]/g, "\uFFFD");
    expect(suite).toMatchObject({ tests: "3", failures: "1", skipped: "1", errors: "0" });
    expect(cases[0]).toMatchObject({ classname: "uffd-suite.unit.anon", name: shown, time: "0.500" });
    expect(cases[0].failure.message).toBe(shown);
    expect(cases[0].failure["#text"]).toBe(`${shown}\nline 2 </failure>`);
    expect(cases[1].skipped.message).toBe("feature missing: <MOVE>");
    expect(cases[1].classname).toBe("uffd-suite.unit.none");
    expect(cases[2]).toMatchObject({ classname: "uffd-suite.stress.shmem", time: "1.250", "system-out": "bounce 1 & 2" });
    expect(xmlAttr("a\nb")).toBe("a&#10;b");
  });

  test("unit --format junit on stdout: one testcase per result, failures with their diagnostics, skips with the reason", () => {
    const r = cli(["unit", "-f", "selftest", "--timeout", "2", "--no-setup", "--format", "junit"], { UFFD_SUITE_TEST_CASES: "1" });
    expect(r.code).toBe(1);
    const { suite, cases } = junitCases(r.out);
    expect(suite).toMatchObject({ name: "uffd-suite unit", tests: "5", failures: "3", skipped: "1" });
    expect(cases.map((c) => c.name)).toEqual([
      "selftest-crash",
      "selftest-hang on anon",
      "selftest-fail",
      "selftest-pass",
      "selftest-hugetlb-shortage on hugetlb",
    ]);
    expect(cases[0].failure.message).toBe("crashed: SIGSEGV");
    expect(cases[0].failure["#text"]).toContain("case process killed by SIGSEGV");
    expect(cases[1].failure.message).toBe("TIMEOUT 2 s");
    expect(cases[2].failure.message).toBe("planted value: expected 2, seen 1");
    expect(cases[2].failure["#text"]).toBe("this case fails on purpose\nplanted value: expected 2, seen 1");
    expect(cases[3].failure).toBeUndefined();
    expect(cases[4].skipped.message).toMatch(/^(not enough HugeTLB pages \(need 1000000, free \d+\)|no hugetlb page size on this kernel)$/);
    for (const c of cases) expect(Number(c.time)).toBeGreaterThanOrEqual(0);
    // Only the document on stdout: no KTAP mixed in.
    expect(r.out.startsWith("<?xml")).toBe(true);
  }, 30_000);
});

describe("--format json --output FILE: the file gets JSON, stdout keeps KTAP", () => {
  test("one object per case (name, memory, result, reason, duration, diagnostics) and a summary, matching the KTAP", () => {
    expect(selftest.code).toBe(1);
    const doc = JSON.parse(readFileSync(join(tmp, "selftest.json"), "utf8"));
    const ktap = ktapResults(selftest.out);
    expect(doc.cases.map((c: any) => [c.n, c.name, c.result])).toEqual(ktap.map((k) => [k.n, k.name, k.result]));
    for (const c of doc.cases) {
      expect(Object.keys(c).sort()).toEqual(["diagnostics", "duration", "memory", "n", "name", "part", "reason", "result"]);
      expect(typeof c.duration).toBe("number");
    }
    expect(doc.cases[1]).toMatchObject({ name: "selftest-hang on anon", memory: "anon", result: "fail", reason: "TIMEOUT 2 s" });
    expect(doc.cases[1].duration).toBeGreaterThanOrEqual(2);
    expect(doc.summary).toMatchObject({ planned: 5, total: 5, pass: 1, fail: 3, skip: 1, interrupted: null });
    expect(doc).toMatchObject({ tool: "uffd-suite", command: "unit" });
  });

  test("wp-mremap --format junit -o, and stress --format json -o: the same results as their KTAP", () => {
    const file = join(tmp, "wp.xml");
    const wp = cli(["wp-mremap", "-f", "size=4096", "--format", "junit", "-o", file]);
    expect(wp.code).toBe(0);
    const { suite, cases } = junitCases(readFileSync(file, "utf8"));
    const ktap = ktapResults(wp.out);
    expect(cases.map((c) => c.name)).toEqual(ktap.map((k) => k.name));
    expect(suite.skipped).toBe(String(ktap.filter((k) => k.result === "skip").length));
    expect(cases[0].classname).toBe("uffd-suite.wp-mremap.shmem");

    const sfile = join(tmp, "stress.json");
    const st = cli(["stress", "anon", "8", "4", "--format", "json", "--output", sfile]);
    expect(st.code).toBe(0);
    const doc = JSON.parse(readFileSync(sfile, "utf8"));
    expect(doc.cases).toHaveLength(1);
    expect(doc.cases[0]).toMatchObject({ name: "stress anon 8 4", part: "stress", memory: "anon", result: "pass", reason: null });
    expect(doc.cases[0].diagnostics.some((d: string) => /^bounce \d/.test(d))).toBe(true);
    expect(st.out).toContain("ok 1 stress anon 8 4\n");
  }, 60_000);

  test("--format ktap --output FILE: the file holds the same KTAP as stdout", () => {
    const file = join(tmp, "api.tap");
    const r = cli(["unit", "-f", "UFFDIO_API", "--output", file]);
    expect(r.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(r.out);
  });
});

describe("kernel CI: the Linaro kselftest regex on real output", () => {
  const runs = () => [
    { name: "unit", r: selftest },
    { name: "wp-mremap", r: cli(["wp-mremap"]) },
    { name: "stress", r: cli(["stress", "shmem", "8", "4"]) },
  ];

  test("every result line gives its name (skips and failures included); nothing else matches", () => {
    for (const { r } of runs()) {
      const results = ktapResults(r.out);
      expect(results.length).toBeGreaterThan(0);
      const matched = r.out
        .split("\n")
        .map((l) => LINARO.exec(l))
        .filter((m) => m !== null);
      expect(matched.map((m) => m![2]!.trim())).toEqual(results.map((k) => k.name));
      expect(matched.map((m) => (m![4] === "SKIP" ? "skip" : m![1] ? "fail" : "pass"))).toEqual(results.map((k) => k.result));
    }
  }, 60_000);

  test("nested under the kselftest runner (`# ` before each line, exit 4 = SKIP): the same names, plus the runner's own line", () => {
    for (const [i, { name, r }] of runs().entries()) {
      const nested = underKselftestRunner(i + 1, `uffd-suite-${name}`, r);
      const results = ktapResults(r.out);
      const matched = nested
        .split("\n")
        .map((l) => LINARO.exec(l))
        .filter((m) => m !== null);
      const own = r.code === 0 ? "pass" : r.code === 4 ? "skip" : "fail";
      expect(matched.map((m) => m![2]!.trim())).toEqual([...results.map((k) => k.name), `selftests: mm: uffd-suite-${name}`]);
      expect(matched.map((m) => (m![4] === "SKIP" ? "skip" : m![1] ? "fail" : "pass"))).toEqual([...results.map((k) => k.result), own]);
    }
  }, 60_000);

  test("a run with nothing to do exits 4, which the runner reports as SKIP", () => {
    const r = cli(["unit", "-f", "selftest-hugetlb", "--no-setup"], { UFFD_SUITE_TEST_CASES: "1" });
    expect(r.code).toBe(4);
    expect(underKselftestRunner(1, "uffd-suite", r).split("\n").at(-1)).toBe("ok 1 selftests: mm: uffd-suite # SKIP");
  });
});
