// reexecWithEnv (used on arm64 to start without JSC's FTL tier): the same
// process (pid) starts again with the same arguments and the variable set,
// and does nothing when the variable is there already.
import { expect, test } from "bun:test";
import { join } from "node:path";

const mod = join(import.meta.dir, "../src/sys/reexec.ts");
const script = `import { reexecWithEnv } from ${JSON.stringify(mod)};
console.log(JSON.stringify({ pid: process.pid, x: process.env.UFFD_REEXEC_X ?? null, args: process.argv.slice(2) }));
reexecWithEnv({ UFFD_REEXEC_X: "1" });`;

function run(env: Record<string, string>) {
  const p = Bun.spawnSync([process.execPath, "-e", script, "a", "b c"], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, lines: p.stdout.toString().trim().split("\n").map((l) => JSON.parse(l) as { pid: number; x: string | null; args: string[] }) };
}

test("starts again as the same process with the variable added and the arguments kept", () => {
  const r = run({});
  expect(r.code).toBe(0);
  expect(r.lines).toHaveLength(2);
  const [first, second] = r.lines;
  expect(first!.x).toBeNull();
  expect(second!.x).toBe("1");
  expect(second!.pid).toBe(first!.pid);
  expect(second!.args).toEqual(first!.args);
  expect(second!.args).toContain("b c");
});

test("does nothing when the variable is set already", () => {
  const r = run({ UFFD_REEXEC_X: "0" });
  expect(r.code).toBe(0);
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]!.x).toBe("0");
});
