// Bad command lines, swept from a table: each must give exactly one line on
// stderr naming the problem, exit 2, nothing on stdout, no stack trace, and
// no change to the machine (nr_hugepages, THP knobs, the sysctl).
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, compiledBinary, fromSource, REPO } from "./support/binary.ts";
import { changes, snapshot } from "./support/system.ts";

const tmp = mkdtempSync(join(tmpdir(), "uffd-bad-input-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** [command line, a part of the one stderr line that names the problem]. */
const TABLE: ReadonlyArray<readonly [readonly string[], string]> = [
  [["frobnicate"], "unknown command frobnicate"],
  [["--frob"], "unknown option --frob"],
  [["unit", "--frob"], "unknown option --frob"],
  [["unit", "--timeout"], "option --timeout needs a value"],
  [["unit", "--timeout", "soon"], "--timeout wants a decimal number of seconds (at least 1), not 'soon'"],
  [["unit", "--timeout", "-5"], "not '-5'"],
  [["unit", "--timeout", "0"], "--timeout 0 is too short (at least 1 s)"],
  [["unit", "--timeout", "1e-9"], "--timeout wants a decimal number of seconds (at least 1), not '1e-9'"],
  [["unit", "--timeout", "0.001"], "--timeout 0.001 is too short (at least 1 s)"],
  [["unit", "--timeout", "1e400"], "not '1e400'"],
  [["unit", "--timeout", "99999999999"], "--timeout 99999999999 is too long (at most 86400 s)"],
  [["unit", "--mem", "swap"], "unknown memory type 'swap' in --mem"],
  [["unit", "--mem", ""], "unknown memory type '' in --mem"],
  [["unit", "--mem", "anon,swap"], "unknown memory type 'swap' in --mem"],
  [["unit", "-f", ""], "-f wants a non-empty part of a case name"],
  [["unit", "-f", "no-such-case"], "no unit case name contains 'no-such-case'"],
  [["unit", "--origin", "upstream"], "--origin wants kernel, suite or all, not 'upstream'"],
  [["unit", "--mem", "anon", "-f", "UFFDIO_API"], "no unit case runs on --mem anon with -f UFFDIO_API"],
  [["unit", "--no-setup=maybe"], "option --no-setup takes no value"],
  [["unit", "--format", "xml"], "--format wants ktap, json, junit, not 'xml'"],
  [["unit", "--format"], "option --format needs a value"],
  [["unit", "--format", "json", "--output", "/nonexistent/dir/r.json"], "no such directory /nonexistent/dir"],
  [["unit", "--output", "/proc/sys/vm/nr_hugepages"], "will not write a report under /proc, /sys, /dev"],
  [["unit", "-o", "/tmp"], "--output /tmp: not a regular file"],
  [["unit", "-o", ""], "--output wants a file name"],
  [["stress"], "missing required positional argument: MEM"],
  [["stress", "anon"], "missing required positional argument: MIB"],
  [["stress", "swap", "20", "16"], "unknown memory type 'swap'"],
  [["stress", "anon", "x", "16"], "size must be a whole number of MiB, got 'x'"],
  [["stress", "anon", "0", "16"], "size must be at least 1 MiB, got '0'"],
  [["stress", "hugetlb", "1", "16"], "size 1 MiB is too small"],
  [["stress", "anon", "99999999999", "16"], "size 99999999999 MiB is too large"],
  [["stress", "anon", "20", "0"], "bounces must be at least 1, got '0'"],
  [["stress", "anon", "20", "x"], "bounces must be a whole number, got 'x'"],
  [["stress", "anon", "20", "-3"], "unknown option -3"],
  [["stress", "anon", "20", "99999999999"], "bounces 99999999999 is too large"],
  [["stress", "anon", "20", "16", "extra"], "unexpected argument 'extra'"],
  [["stress", "anon", "20", "16", "--eexist-interval", "x"], "--eexist-interval must be a number of seconds, got 'x'"],
  [["stress", "anon", "20", "16", "--format", "tap"], "--format wants ktap, json, junit, not 'tap'"],
  [["wp-mremap", "-f", "nothing-matches"], "no wp-mremap case name contains 'nothing-matches'"],
  [["wp-mremap", "--output", "/sys/kernel/mm/transparent_hugepage/enabled"], "will not write a report under /proc, /sys, /dev"],
  [["run", "--timeout", "abc"], "--timeout wants a decimal number of seconds (at least 1), not 'abc'"],
  [["run", "--format", "junit", "--output", "/nonexistent/x.xml"], "no such directory /nonexistent"],
  [["features", "--json", "extra"], "unexpected argument 'extra'"],
  // An option that takes one value, given twice: an error, not "the last one wins".
  [["unit", "-f", "wp", "-f", "move"], "option -f given more than once (it takes one value)"],
  [["unit", "-f", "wp", "--filter", "move"], "option --filter given more than once"],
  [["unit", "--format", "json", "--format", "junit"], "option --format given more than once"],
  [["stress", "anon", "20", "16", "--format=json", "--format", "ktap"], "option --format given more than once"],
  [["unit", "--origin", "kernel", "--origin=suite"], "option --origin given more than once"],
  // A list option given twice is one list: the unknown type in the first --mem is still found.
  [["unit", "--mem", "swap", "--mem", "anon"], "unknown memory type 'swap' in --mem"],
  [["unit", "--mem=anon", "--mem", "swap"], "unknown memory type 'swap' in --mem"],
  // --version takes no argument: the extra one is named, not --version.
  [["--version", "extra"], "unexpected argument 'extra' after --version (it takes none)"],
  [["-v", "unit"], "unexpected argument 'unit' after -v"],
];

function expectUsage(r: { code: number | null; out: string; err: string }, names: string): void {
  expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: "" });
  const lines = r.err.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("uffd-suite: ");
  expect(lines[0]).toContain(names);
  expect(r.err).not.toMatch(/\n\s+at |^error:|Error:|\u001b\[/m);
}

/** Killed past this (a usage error answers at once), so a hang fails the test instead of stalling the file. */
const RUN_TIMEOUT_MS = 10_000;

function run(cmd: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync(cmd, {
    cwd: REPO,
    env: childEnv(env),
    stdout: "pipe",
    stderr: "pipe",
    timeout: RUN_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  const err = p.stderr.toString() + (p.exitedDueToTimeout ? `\n(killed after ${RUN_TIMEOUT_MS} ms)` : "");
  return { code: p.exitCode, out: p.stdout.toString(), err };
}

describe("bad input: one line naming the problem, exit 2, nothing changed", () => {
  test("the table has at least 20 rows", () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(20);
  });

  for (const [args, names] of TABLE) {
    test(`uffd-suite ${args.map((a) => (a === "" ? "''" : a)).join(" ")}`, () => {
      const before = snapshot();
      expectUsage(run([...fromSource(), ...args]), names);
      expect(changes(before, snapshot())).toEqual([]);
    });
  }

  test("a long argument is cut in the message, not echoed whole", () => {
    const long = "x".repeat(120_000);
    const r = run([...fromSource(), "unit", "--mem", long]);
    expectUsage(r, `unknown memory type '${"x".repeat(60)}…(120000 characters)' in --mem`);
    expect(r.err.length).toBeLessThan(300);
  });

  test("a repeated list option is one list: --mem anon --mem shmem runs both (and nothing else)", () => {
    const r = run([...fromSource(), "unit", "-f", "zeropage", "--mem", "anon", "--mem", "shmem", "--no-setup"]);
    expect(r.code).toBe(0);
    expect(r.out.match(/^ok \d+ .*$/gm)).toEqual(["ok 1 zeropage on anon", "ok 2 zeropage on shmem"]);
  });

  test("CONSOLA_LEVEL that is not a number: ignored with one warning (not 'log everything'), and case processes do not repeat it", () => {
    const r = run([...fromSource(), "unit", "-f", "zeropage", "--mem", "anon,shmem", "--no-setup"], { CONSOLA_LEVEL: "abc" });
    expect(r.code).toBe(0);
    const warnings = r.err.split("\n").filter((l) => l.includes("CONSOLA_LEVEL"));
    expect(warnings).toEqual(["uffd-suite: CONSOLA_LEVEL 'abc' is not a whole number (0 errors only … 3 info … 5 trace); using 3"]);
    expect(r.err).not.toContain("[debug]");
    expect(r.err).toContain("[info] unit: 2 pass");
    // A valid level still works: 5 (trace) shows the debug lines.
    expect(run([...fromSource(), "unit", "-f", "zeropage", "--mem", "anon", "--no-setup"], { CONSOLA_LEVEL: "5" }).err).toContain(
      "[debug]",
    );
  });

  test("a bad --output leaves no file behind, and a good one with a bad option is not created either", () => {
    const out = join(tmp, "never.json");
    expectUsage(run([...fromSource(), "unit", "--output", out, "--timeout", "0"]), "--timeout");
    expect(existsSync(out)).toBe(false);
  });

  test("the compiled binary, and as user nobody (an --output it may not write)", () => {
    const bin = compiledBinary();
    const before = snapshot();
    expectUsage(run([bin, "unit", "--mem", "swap"]), "unknown memory type 'swap'");
    expectUsage(run([bin, "stress", "anon", "20", "0"]), "bounces must be at least 1");
    const nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", bin];
    expectUsage(run([...nobody, "unit", "--output", "/root/uffd-report.json"]), "not writable (EACCES)");
    expectUsage(run([...nobody, "stress", "hugetlb", "1", "16"]), "size 1 MiB is too small");
    expect(changes(before, snapshot())).toEqual([]);
  }, 60_000);
});
