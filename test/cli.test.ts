// The command line, run as a child process: from source with `bun`, and once
// as the compiled binary from a folder outside the checkout.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { WORKER_ENTRIES } from "../src/workers.ts";

const REPO = join(import.meta.dir, "..");
const MAIN = join(REPO, "src/main.ts");
const ANSI = /\u001b\[/;

/** The environment of a user at a terminal-less shell: no CI/NO_COLOR/TEST hints. */
function plainEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !["CI", "NO_COLOR", "TEST", "FORCE_COLOR"].includes(k)) env[k] = v;
  return env;
}

function run(cmd: string[], opts: { cwd?: string } = {}) {
  const p = Bun.spawnSync(cmd, { cwd: opts.cwd ?? REPO, env: plainEnv(), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

const cli = (...args: string[]) => run([process.execPath, MAIN, ...args]);

function expectUsageError(r: ReturnType<typeof cli>, names: string) {
  expect(r.code).toBe(2);
  expect(r.out).toBe("");
  const lines = r.err.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("uffd-suite: ");
  expect(lines[0]).toContain(names);
  expect(r.err).not.toMatch(/\n\s+at |error:/);
  expect(r.err).not.toMatch(ANSI);
}

describe("uffd-suite (from source)", () => {
  test("--version prints the package version", () => {
    const r = cli("--version");
    expect(r).toEqual({ code: 0, out: `${pkg.version}\n`, err: "" });
  });

  test("--help lists the commands, without colour when piped", () => {
    const r = cli("--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("USAGE uffd-suite");
    expect(r.out).toContain("features");
    expect(r.out).not.toMatch(ANSI);
  });

  test("features --help shows its options", () => {
    const r = cli("features", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("uffd-suite features");
    expect(r.out).toContain("--json");
    expect(r.out).not.toMatch(ANSI);
  });

  test("an unknown command: one line naming it, exit 2", () => {
    expectUsageError(cli("frobnicate"), "unknown command frobnicate");
  });

  test("an unknown option: one line naming it, exit 2", () => {
    expectUsageError(cli("features", "--frob"), "unknown option --frob");
    expectUsageError(cli("--frob"), "unknown option --frob");
    expectUsageError(cli("features", "-q"), "unknown option -q");
  });

  test("an extra argument or a value for a flag: exit 2", () => {
    expectUsageError(cli("features", "extra"), "unexpected argument 'extra'");
    expectUsageError(cli("features", "--json=yes"), "--json takes no value");
  });

  test("features --json: one object, 17 features, five memory types", () => {
    const r = cli("features", "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(Object.keys(report.features)).toHaveLength(17);
    expect(report.features.EVENT_FORK).toBe(true);
    expect(report.open).toMatchObject({ ok: true });
    expect(report.kernel.release).toBe(release());
    expect(Object.keys(report.memory)).toEqual(["anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private"]);
    expect(report.memory.anon.register.minor).toEqual({ error: "EINVAL" });
    expect(report.memory.anon.register.missing.ioctls).toEqual(expect.arrayContaining(["COPY", "ZEROPAGE", "WAKE"]));
    expect(report.memory.anon.register.wp.ioctls).toContain("WRITEPROTECT");
    expect(report.memory.shmem.register.minor.ioctls).toContain("CONTINUE");
  });

  test("features as text", () => {
    const r = cli("features");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kernel {7}\S+/);
    expect(r.out).toMatch(/features \(\d+ of 17 supported\)/);
    expect(r.out).toContain("minor    fails: EINVAL");
    expect(r.err).toBe("");
  });
});

describe("the compiled binary", () => {
  const tmp = mkdtempSync(join(tmpdir(), "uffd-suite-build-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test("every Worker entry of src/workers.ts exists (build.ts embeds them all)", () => {
    for (const path of Object.values(WORKER_ENTRIES)) expect(existsSync(join(REPO, "src", path))).toBe(true);
  });

  test("bun build.ts builds it; it runs from a folder outside the checkout", () => {
    const bin = join(tmp, "uffd-suite");
    const build = run([process.execPath, join(REPO, "build.ts"), "--outfile", bin]);
    expect(build.err).toContain("built");
    expect(build.code).toBe(0);
    const version = run([bin, "--version"], { cwd: tmp });
    expect(version).toEqual({ code: 0, out: `${pkg.version}\n`, err: "" });
    const r = run([bin, "features", "--json"], { cwd: tmp });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(Object.keys(JSON.parse(r.out).features)).toHaveLength(17);
    expectUsageError(run([bin, "nope"], { cwd: tmp }), "unknown command nope");
  }, 120_000);
});
