// The compiled binary, built once per test process into a temp folder that
// user nobody can read (mode 755), for tests of the binary as shipped.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO = join(import.meta.dir, "../..");
export const MAIN = join(REPO, "src/main.ts");

let built: string | undefined;

export function compiledBinary(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), "uffd-suite-hardening-"));
  chmodSync(dir, 0o755);
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "uffd-suite");
  const p = Bun.spawnSync([process.execPath, join(REPO, "build.ts"), "--outfile", bin], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`build failed: ${p.stderr.toString()}`);
  chmodSync(bin, 0o755);
  built = bin;
  return bin;
}

/** The test switches childEnv leaves out of a child's environment. */
const TEST_SWITCHES = ["UFFD_SUITE_TEST_CASES", "UFFD_SUITE_PLANT", "UFFD_SUITE_TEST_PAUSE_MS"] as const;

/** The environment for a child: ours less test switches (but those in `opts.keep`), plus `extra`. */
export function childEnv(
  extra: Record<string, string> = {},
  opts: { keep?: readonly (typeof TEST_SWITCHES)[number][] } = {},
): Record<string, string> {
  const drop: readonly string[] = TEST_SWITCHES.filter((k) => !opts.keep?.includes(k));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !drop.includes(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

/** The command that runs uffd-suite from source. */
export function fromSource(): string[] {
  return [process.execPath, MAIN];
}
