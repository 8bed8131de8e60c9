// The LAVA test definition (lava/uffd-suite.sh) on real KTAP outputs —
// passes, a failure, a crash, a timeout, skips, plain and nested under the
// kselftest runner — without LAVA: every result becomes one LAVA test case
// whose id does not change between pass, fail and skip, and both of
// Linaro's paths (parse-output.py; the older regex plus send-to-lava.sh) read
// one distinct id per case with the right result from what it prints. Then
// the matrix's reading of a lava-run log: cases fail the target whatever the
// job's own result says, and a known kernel bug is told apart.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { judge } from "../lava/matrix/verdict.ts";
import { readLavaLog } from "../lava/matrix/results.ts";
import { readRun } from "../lava/matrix/report.ts";
import { allCases, findCase, planCases } from "../src/unit/plan.ts";
import { withKnownBug } from "../src/unit/known-bugs.ts";
import { childEnv, fromSource, REPO } from "./support/binary.ts";
import { underKselftestRunner, type ProgramRun } from "./support/kselftest-runner.ts";
import { parseKtapResult } from "./support/ktap.ts";
import { lavaAcceptsId, linaroSlugify, oldKselftestLines, parseOutputPy, sendToLava } from "./support/linaro.ts";

const SCRIPT = join(REPO, "lava/uffd-suite.sh");
const tmp = mkdtempSync(join(tmpdir(), "uffd-lava-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}): ProgramRun {
  const p = Bun.spawnSync([...fromSource(), ...args], { cwd: REPO, env: childEnv(env), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

// Real outputs: the runner's own test cases give a crash, a hang past its
// limit, a failed check, a pass and a skip; wp-mremap gives real names with
// passes and skips.
const unit = cli(["unit", "-f", "selftest", "--timeout", "2", "--no-setup"], { UFFD_SUITE_TEST_CASES: "1" });
const wpMremap = cli(["wp-mremap", "--no-setup"]);

let dirs = 0;
interface Emitted {
  readonly stdout: string;
  readonly results: { id: string; result: string }[];
  readonly dir: string;
  /** The lava-test-case calls, one argument list each. */
  readonly calls: string[];
  readonly stderr: string;
}

/** Run the test definition's script with sh, as LAVA would, with a stand-in lava-test-case on PATH (or none). */
function emit(args: string[], opts: { lava?: boolean; shell?: string } = {}): Emitted {
  const dir = join(tmp, `run${++dirs}`);
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  const calls = join(dir, "calls");
  if (opts.lava !== false) {
    writeFileSync(join(bin, "lava-test-case"), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\n`);
    chmodSync(join(bin, "lava-test-case"), 0o755);
  }
  writeFileSync(calls, "");
  const p = Bun.spawnSync([...(opts.shell ?? "sh").split(" "), SCRIPT, ...args, "-o", join(dir, "output")], {
    cwd: dir,
    env: { PATH: `${bin}:/usr/bin:/bin` },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(p.exitCode).toBe(0);
  const results = readFileSync(join(dir, "output/result.txt"), "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => ({ id: l.split(" ")[0]!, result: l.split(" ")[1]! }));
  return {
    stdout: p.stdout.toString(),
    stderr: p.stderr.toString(),
    results,
    dir,
    calls: readFileSync(calls, "utf8").trim().split("\n").filter(Boolean),
  };
}

/** A stand-in binary that prints a recorded output and exits as the real one did. */
function recorded(name: string, r: ProgramRun): string {
  writeFileSync(join(tmp, `${name}.out`), r.out);
  const path = join(tmp, `${name}.sh`);
  writeFileSync(path, `#!/bin/sh\ncat '${join(tmp, `${name}.out`)}'\nexit ${r.code}\n`);
  chmodSync(path, 0o755);
  return path;
}

function logFile(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

interface Ktap {
  readonly name: string;
  readonly result: string;
  /** A skip's reason or a failure's directive. */
  readonly directive: string;
  /** The "# " lines since the previous result. */
  readonly diagnostics: string[];
}

/** The results of a KTAP stream, as LAVA should see them. */
function expected(text: string): Ktap[] {
  const out: Ktap[] = [];
  let diags: string[] = [];
  for (const line of text.split("\n")) {
    const k = parseKtapResult(line);
    if (k) {
      out.push({ name: k.name, result: k.result, directive: k.directive ?? "", diagnostics: diags });
      diags = [];
    } else if (line.startsWith("# ")) diags.push(line.slice(2));
  }
  return out;
}

const SHELLS = ["sh", ...(Bun.which("busybox") ? ["busybox sh"] : [])];

describe("lava/uffd-suite.sh: one LAVA case per KTAP result", () => {
  test("the real outputs hold every kind of result", () => {
    const kinds = expected(unit.out).map((k) => k.result);
    expect(kinds).toContain("pass");
    expect(kinds).toContain("fail");
    expect(kinds).toContain("skip");
    expect(unit.out).toContain("# crashed: SIGSEGV");
    expect(unit.out).toMatch(/# TIMEOUT 2 s/);
    expect(expected(wpMremap.out).length).toBeGreaterThan(5);
  }, 60_000);

  for (const shell of SHELLS) {
    test(`${shell}: running the binary, every result and the program's exit are reported with lava-test-case`, () => {
      for (const [name, r] of [
        ["unit", unit],
        ["wp-mremap", wpMremap],
      ] as const) {
        const e = emit(["-b", recorded(name, r), "-c", `${name} --no-setup`], { shell });
        expect(e.stderr).toBe("");
        const want = expected(r.out);
        const ids = e.results.map((x) => x.id);
        expect(ids.slice(0, -1)).toEqual(want.map((k) => linaroSlugify(k.name)));
        expect(e.results.slice(0, -1).map((x) => x.result)).toEqual(want.map((k) => k.result));
        // The program's own case: exit 1 fails it, exit 0 passes it.
        expect(e.results.at(-1)).toEqual({ id: `uffd-suite_${name}`, result: r.code === 0 ? "pass" : "fail" });
        expect(e.calls).toEqual(e.results.map((x) => `${x.id} --result ${x.result}`));
        expect(new Set(ids).size).toBe(ids.length);
        for (const id of ids) {
          expect(lavaAcceptsId(id)).toBe(true);
          expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
        }
      }
    }, 60_000);
  }

  test("a skip reason and a failure's directive and diagnostics are the case's notes, never its id", () => {
    const e = emit(["-b", recorded("unit", unit), "-c", "unit"]);
    for (const k of expected(unit.out).filter((x) => x.result !== "pass")) {
      const id = linaroSlugify(k.name);
      const notes = readFileSync(join(e.dir, "output", `${id}.log`), "utf8");
      const block = new RegExp(`<LAVA_SIGNAL_STARTTC ${id}>\\n([^]*?)\\n<LAVA_SIGNAL_ENDTC ${id}>`).exec(e.stdout);
      expect(block?.[1]).toBe(notes.trimEnd());
      expect(notes).toContain(k.directive);
      for (const d of k.diagnostics) expect(notes).toContain(d);
    }
    const crash = expected(unit.out).find((x) => /crash/.test(x.name))!;
    expect(readFileSync(join(e.dir, "output", `${linaroSlugify(crash.name)}.log`), "utf8")).toContain("crashed: SIGSEGV");
  }, 30_000);

  test("the same name gives the same id whether it passes, fails, times out, crashes or skips", () => {
    const names = expected(`${unit.out}\n${wpMremap.out}`).map((k) => k.name);
    const variants = (n: string) => [
      `ok 1 ${n}`,
      `not ok 1 ${n}`,
      `not ok 1 ${n} # TIMEOUT 60 s`,
      `not ok 1 ${n} # crashed: SIGSEGV`,
      `ok 1 ${n} # SKIP feature missing: MOVE`,
      `ok 1 ${n} # SKIP`,
    ];
    for (const n of names) {
      const e = emit(["-i", logFile("variants.ktap", variants(n).join("\n"))]);
      const ids = e.results.map((x) => x.id.replace(/_dup\d+$/, ""));
      expect(new Set(ids)).toEqual(new Set([linaroSlugify(n)]));
      expect(e.results.map((x) => x.result)).toEqual(["pass", "fail", "fail", "fail", "skip", "skip"]);
    }
  }, 60_000);

  test("nested under the kselftest runner: the same ids, plus the runner's own line", () => {
    for (const [name, r] of [
      ["unit", unit],
      ["wp-mremap", wpMremap],
    ] as const) {
      const nested = underKselftestRunner(1, `uffd-suite-${name}`, r);
      const e = emit(["-i", logFile(`${name}.nested`, nested)]);
      const want = expected(r.out);
      expect(e.results).toEqual([
        ...want.map((k) => ({ id: linaroSlugify(k.name), result: k.result })),
        { id: `selftests_mm_uffd-suite-${name}`, result: r.code === 0 ? "pass" : "fail" },
      ]);
    }
  }, 30_000);

  test("ids are distinct over every result `run` prints", () => {
    const mremapNames = cli(["wp-mremap", "-l"]).out.trim().split("\n");
    const stress = ["anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private"].map((m) => `stress ${m} 20 16`);
    const names = [...planCases(allCases({})).map((p) => p.name), ...stress, ...mremapNames];
    expect(names.length).toBeGreaterThan(100);
    const lines = names.map((n, i) => `ok ${i + 1} ${n} # SKIP some reason`).join("\n");
    const e = emit(["-i", logFile("all.ktap", lines)]);
    const ids = e.results.map((x) => x.id);
    expect(ids.filter((id) => /_dup\d+$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(names.length);
    // LAVA's server keeps a case name in 100 characters at most.
    expect(Math.max(...ids.map((id) => id.length))).toBeLessThanOrEqual(100);
  }, 30_000);

  test("a binary that is missing or dies of a signal fails the program's case, with the reason in its notes", () => {
    const missing = emit(["-b", join(tmp, "no-such-binary"), "-c", "run"]);
    expect(missing.results).toEqual([{ id: "uffd-suite_run", result: "fail" }]);
    expect(readFileSync(join(missing.dir, "output/uffd-suite_run.log"), "utf8")).toContain("exit code 127");
    const ill = join(tmp, "ill.sh");
    writeFileSync(ill, "#!/bin/sh\nkill -ILL $$\n");
    chmodSync(ill, 0o755);
    const died = emit(["-b", ill, "-c", "unit -f move"]);
    expect(died.results).toEqual([{ id: "uffd-suite_unit", result: "fail" }]);
    expect(readFileSync(join(died.dir, "output/uffd-suite_unit.log"), "utf8")).toContain("exit code 132 (signal 4)");
  });

  test("bad usage: exit code 2 and one line naming the problem", () => {
    for (const [args, problem] of [
      [["-x"], "unknown option -x"],
      [["-b"], "-b needs a value"],
      [["-c", ""], "an empty -c"],
      [["extra"], "unexpected argument extra"],
      [["-i", join(tmp, "nothing-here")], "cannot read the KTAP log"],
    ] as const) {
      const p = Bun.spawnSync(["sh", SCRIPT, ...args], { cwd: tmp, stdout: "pipe", stderr: "pipe" });
      expect(p.exitCode).toBe(2);
      expect(p.stdout.toString()).toBe("");
      expect(p.stderr.toString().trim().split("\n")).toHaveLength(1);
      expect(p.stderr.toString()).toContain(problem);
    }
  });

  test("without lava-test-case it sends LAVA's signals itself, as send-to-lava.sh does", () => {
    const e = emit(["-i", logFile("unit.ktap", unit.out)], { lava: false });
    const signalled = [...e.stdout.matchAll(/<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=(\S+) RESULT=(\w+)>/g)].map((m) => ({
      id: m[1]!,
      result: m[2]!,
    }));
    expect(signalled).toEqual(e.results);
  });
});

describe("Linaro's parsers over what the test definition prints", () => {
  const cases = () =>
    [
      ["unit", unit],
      ["wp-mremap", wpMremap],
    ] as const;

  test("parse-output.py: one distinct id per case, the script's own, with its result", () => {
    for (const [name, r] of cases()) {
      const e = emit(["-b", recorded(name, r), "-c", name]);
      const parsed = parseOutputPy(e.stdout);
      expect(parsed).toEqual(e.results);
      expect(parsed.filter((c) => /_dup\d+$/.test(c.id))).toEqual([]);
    }
  }, 30_000);

  test("the older regex plus send-to-lava.sh: one distinct id per case with its result", () => {
    for (const [name, r] of cases()) {
      const e = emit(["-b", recorded(name, r), "-c", name]);
      const lava = sendToLava(oldKselftestLines(e.stdout).join("\n"));
      // No "# selftests:" header: the old path puts an empty folder before a dot.
      expect(lava).toEqual(e.results.map((x) => ({ id: `.${x.id}`, result: x.result })));
      expect(new Set(lava.map((c) => c.id)).size).toBe(lava.length);
    }
  }, 30_000);

  test("send-to-lava.sh over output/result.txt (the test-definitions convention) gives the same cases", () => {
    const e = emit(["-b", recorded("unit", unit), "-c", "unit"]);
    expect(sendToLava(readFileSync(join(e.dir, "output/result.txt"), "utf8"))).toEqual(e.results);
  });

  test("the raw KTAP, for comparison: parse-output.py glues skip reasons into ids, the old path splits names at spaces", () => {
    const skip = expected(unit.out).find((k) => k.result === "skip" && k.directive)!;
    const raw = parseOutputPy(unit.out).map((c) => c.id);
    expect(raw).not.toContain(linaroSlugify(skip.name));
    expect(raw).toContain(linaroSlugify(`${skip.name} ${skip.directive}`));
    const old = sendToLava(oldKselftestLines("ok 1 zeropage on anon\nnot ok 2 zeropage on shmem").join("\n"));
    expect(old.map((c) => c.id)).toEqual([".zeropage", ".zeropage"]);
  });
});

// A lava-run log in the dispatcher's own record shapes (a results record
// carries YAML tags, so it is not JSON).
const rec = (lvl: string, msg: string) => `{"dt": "2026-01-01T00:00:00", "lvl": "${lvl}", "msg": ${JSON.stringify(msg)}}`;
const results = (body: string) => `{"dt": "2026-01-01T00:00:00", "lvl": "results", "msg": ${body}}`;
function lavaLog(cases: { id: string; result: string; notes?: string[] }[], job = "pass"): string {
  const lines = [rec("info", "start: 0 validate")];
  for (const c of cases) {
    // The console as LAVA logs it: each double quote escaped.
    if (c.notes)
      lines.push(
        rec("target", `<LAVA_SIGNAL_STARTTC ${c.id}>`),
        ...c.notes.map((n) => rec("target", n.replaceAll('"', '\\"'))),
        rec("target", `<LAVA_SIGNAL_ENDTC ${c.id}>`),
      );
    lines.push(results(`{"case": "${c.id}", "definition": "0_uffd-suite", "endtc": ! "623", "result": "${c.result}", "starttc": ! "620"}`));
  }
  lines.push(results(`{"case": "0_uffd-suite", "definition": "lava", "result": "pass"}`));
  lines.push(results(`{"case": "job", "definition": "lava", "result": "${job}"}`));
  return lines.join("\n");
}

describe("npm run matrix: the cases of a job come from lava-run's log", () => {
  test("a failed case fails the target although LAVA calls the job a pass", () => {
    const log = readLavaLog(
      lavaLog([
        { id: "zeropage_on_anon", result: "pass" },
        { id: "move_on_anon", result: "skip", notes: ["feature missing: MOVE"] },
        { id: "events_on_shmem", result: "fail", notes: ["missing faults: expected 16, seen 15"] },
        { id: "uffd-suite_unit", result: "fail", notes: ["exit code 1"] },
      ]),
    );
    expect(log.job?.result).toBe("pass");
    const v = judge(log, "unit");
    expect([v.pass, v.skip]).toEqual([1, 1]);
    expect(v.unknown.map((f) => [f.name, f.diagnostic])).toEqual([
      ["events_on_shmem", "missing faults: expected 16, seen 15"],
      ["uffd-suite_unit", "exit code 1"],
    ]);
  });

  test("a failure naming its upstream fix is known, and so is the exit code it causes", () => {
    const hint = 'known kernel bug: fixed upstream by 5a2f8d22ace4 ("mm/hugetlb: fix uffd-wp during fork()", v6.4); seen on Debian';
    const v = judge(
      readLavaLog(
        lavaLog([
          { id: "wp-fork_on_hugetlb-private", result: "fail", notes: [hint, "child's uffd-wp bit: expected clear, seen set"] },
          { id: "uffd-suite_unit", result: "fail", notes: ["exit code 1"] },
        ]),
      ),
      "unit",
    );
    expect(v.unknown).toEqual([]);
    expect(v.known.map((f) => [f.name, f.diagnostic, f.known])).toEqual([
      ["wp-fork_on_hugetlb-private", "child's uffd-wp bit: expected clear, seen set", hint],
      ["uffd-suite_unit", "exit code 1", "exit code 1 from the known failures above"],
    ]);
  });

  test("a result printed on the console that LAVA never recorded (its signal line cut by a kernel message) is a failure", () => {
    const text = [
      rec("target", "ok 61 poison_on_anon[   45.920881] MCE: Killing Worker:546 due to hardware memory corruption fault at 7f315c544000"),
      rec("target", "TCASE TEST_CASE_ID=poison_on_anon RESULT=pass>"),
      rec("target", "ok 62 poison_on_shmem"),
      rec("target", "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=poison_on_shmem RESULT=pass>"),
      lavaLog([
        { id: "poison_on_shmem", result: "pass" },
        { id: "uffd-suite_unit", result: "pass" },
      ]),
    ].join("\n");
    const log = readLavaLog(text);
    expect(log.printed).toEqual(["poison_on_anon", "poison_on_shmem"]);
    const v = judge(log, "unit");
    expect(v.pass).toBe(2);
    expect(v.unknown.map((f) => f.name)).toEqual(["poison_on_anon"]);
    expect(v.unknown[0]!.diagnostic).toContain("LAVA recorded no test case");
  });

  test("a crash of the program, a job LAVA failed, or no cases at all are failures", () => {
    const crash = judge(readLavaLog(lavaLog([{ id: "uffd-suite_unit", result: "fail", notes: ["exit code 132 (signal 4)"] }])), "unit");
    expect(crash.unknown.map((f) => f.name)).toEqual(["uffd-suite_unit"]);
    const broken = readLavaLog(
      [
        results(`{"case": "job", "definition": "lava", "error_msg": "boot timed out", "error_type": "Infrastructure", "result": "fail"}`),
      ].join("\n"),
    );
    expect(judge(broken, "unit").unknown.map((f) => [f.name, f.diagnostic])).toEqual([
      ["lava: job", "boot timed out"],
      ["no test case came back", "boot timed out"],
    ]);
  });
});

describe("npm run matrix -- --report: an earlier run's folder read back", () => {
  test("one row per target folder: its kernel, counts and wall time from the log", () => {
    const dir = join(tmp, "matrix-run", "6.1-x86_64");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "job.yaml"),
      JSON.stringify({
        actions: [
          { deploy: { images: { kernel: { url: "file:///c/kernels/linux-image-6.1.0-57-amd64_6.1.192-3_amd64/vmlinuz" } } } },
          { test: { definitions: [{ parameters: { COMMAND: "unit --timeout 240" } }] } },
        ],
      }),
    );
    const log = lavaLog([
      { id: "zeropage_on_anon", result: "pass" },
      { id: "events_on_anon", result: "fail", notes: ["expected 1, seen 2"] },
      { id: "uffd-suite_unit", result: "fail", notes: ["exit code 1"] },
    ])
      .replace('"dt": "2026-01-01T00:00:00"', '"dt": "2026-01-01T00:00:00.000"')
      .replace(/"dt": "2026-01-01T00:00:00"(?![\s\S]*"dt": "2026-01-01T00:00:00")/, '"dt": "2026-01-01T00:01:40"');
    writeFileSync(join(dir, "lava-run.log"), log);
    const { rows, command } = readRun([dir]);
    expect(command).toBe("unit --timeout 240");
    expect(rows.map((r) => [r.target, r.kernel, r.verdict.pass, r.verdict.unknown.map((f) => f.name), Math.round(r.wallS)])).toEqual([
      ["6.1-x86_64", "linux-image-6.1.0-57-amd64_6.1.192-3_amd64", 1, ["events_on_anon", "uffd-suite_unit"], 100],
    ]);
  });
});

describe("known kernel bugs in the case table", () => {
  const wpFork = findCase("wp-fork", {})!;
  const seen = "child's uffd-wp bit in a present pte (without EVENT_FORK): expected clear (dropped), seen set (entry 0x828000000000ba00)";

  test("wp-fork on hugetlb-private failing its present-pte check names the upstream fix first, and stays a failure", () => {
    const r = withKnownBug({ status: "fail", diagnostics: [seen] }, wpFork, "hugetlb-private");
    expect(r.status).toBe("fail");
    expect(r.diagnostics).toEqual([
      'known kernel bug: fixed upstream by 5a2f8d22ace4 ("mm/hugetlb: fix uffd-wp during fork()", v6.4); seen on Debian 6.1.0-57 (6.1.192) x86_64',
      seen,
    ]);
  });

  test("another memory type, another check, a pass or a skip get no such line", () => {
    expect(withKnownBug({ status: "fail", diagnostics: [seen] }, wpFork, "anon").diagnostics).toEqual([seen]);
    const other = ["uffd-wp bit after UFFDIO_WRITEPROTECT: expected set, seen clear"];
    expect(withKnownBug({ status: "fail", diagnostics: other }, wpFork, "hugetlb-private").diagnostics).toEqual(other);
    expect(withKnownBug({ status: "pass", diagnostics: [seen] }, wpFork, "hugetlb-private").diagnostics).toEqual([seen]);
    expect(
      withKnownBug({ status: "skip", reason: "x", diagnostics: [] }, findCase("wp-fork-with-event", {})!, "hugetlb-private").diagnostics,
    ).toEqual([]);
  });
});
