// Through the command, in case processes: each kind of error a case throws
// gets its verdict and exit code, and on a run with a crash, a TIMEOUT (a
// small --timeout), a failure, a pass and a skip the result lines, # Totals
// and the exit code agree.
import { describe, expect, test } from "bun:test";
import { THROWN } from "../src/unit/thrown-cases.ts";
import { childEnv, fromSource, REPO } from "./support/binary.ts";

async function unit(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([...fromSource(), "unit", ...args, "--no-setup"], {
    cwd: REPO,
    env: childEnv({ UFFD_SUITE_TEST_CASES: "1" }),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** Counts of the result lines, and those the # Totals line gives. */
function agree(out: string): { lines: Record<string, number>; totals: Record<string, number> } {
  const results = out.split("\n").filter((l) => /^(not )?ok \d+ /.test(l));
  const lines = {
    pass: results.filter((l) => l.startsWith("ok ") && !/ # SKIP/.test(l)).length,
    fail: results.filter((l) => l.startsWith("not ok ")).length,
    skip: results.filter((l) => l.startsWith("ok ") && / # SKIP/.test(l)).length,
  };
  const m = /^# Totals: pass:(\d+) fail:(\d+) xfail:0 xpass:0 skip:(\d+) error:0$/m.exec(out);
  expect(m).not.toBeNull();
  return { lines, totals: { pass: Number(m![1]), fail: Number(m![2]), skip: Number(m![3]) } };
}

describe("errors are failures, through the command", () => {
  test("every thrown case: not ok naming the error, or a skip naming what is missing; exit 1", async () => {
    const r = await unit(["-f", "thrown-"]);
    expect(r.code).toBe(1);
    const lines = r.out.split("\n");
    for (const [i, [name, verdict]] of THROWN.entries()) {
      const n = i + 1;
      if (verdict === "fail") {
        const at = lines.indexOf(`not ok ${n} ${name}`);
        expect(at).toBeGreaterThan(0);
        expect(lines[at - 1]).toMatch(/^# \S/);
      } else {
        expect(lines).toContain(
          `ok ${n} ${name} # SKIP ${name === "thrown-skip" ? "not enough HugeTLB pages (need 2, free 0)" : "feature missing: MOVE"}`,
        );
      }
    }
    expect(lines[lines.indexOf("not ok 1 thrown-sys-error") - 1]).toBe(
      "# SysError: UFFDIO_REGISTER (a call that should work): EINVAL (Invalid argument)",
    );
    const { lines: seen, totals } = agree(r.out);
    expect(totals).toEqual(seen);
    expect(seen).toEqual({ pass: 0, fail: 11, skip: 2 });
  }, 60_000);

  test("one SysError alone: exit 1; skips alone: exit 4", async () => {
    expect((await unit(["-f", "thrown-sys-error"])).code).toBe(1);
    const skip = await unit(["-f", "thrown-missing-feature"]);
    expect(skip.code).toBe(4);
    expect(skip.out).toContain("ok 1 thrown-missing-feature # SKIP feature missing: MOVE\n");
  }, 30_000);
});

test("a crash, a TIMEOUT (--timeout 1), a failure, a pass, a skip: lines, # Totals and exit code agree", async () => {
  const r = await unit(["-f", "selftest", "--timeout", "1"]);
  const lines = r.out.split("\n");
  expect(lines).toContain("not ok 1 selftest-crash # crashed: SIGSEGV");
  expect(lines).toContain("not ok 2 selftest-hang on anon # TIMEOUT 1 s");
  expect(lines[lines.indexOf("not ok 2 selftest-hang on anon # TIMEOUT 1 s") - 1]).toMatch(/^# selftest-hang on anon: /);
  expect(lines).toContain("not ok 3 selftest-fail");
  expect(lines).toContain("ok 4 selftest-pass");
  expect(lines.some((l) => l.startsWith("ok 5 selftest-hugetlb-shortage on hugetlb # SKIP "))).toBe(true);
  const { lines: seen, totals } = agree(r.out);
  expect(totals).toEqual(seen);
  expect(seen).toEqual({ pass: 1, fail: 3, skip: 1 });
  expect(r.code).toBe(1);
}, 30_000);
