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
  const p = Bun.spawnSync([process.execPath, "-e", script, "a", "b c", "é-ü"], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return {
    code: p.exitCode,
    lines: p.stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { pid: number; x: string | null; args: string[] }),
  };
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
  expect(second!.args).toContain("é-ü");
});

test("does nothing when the variable is set already", () => {
  const r = run({ UFFD_REEXEC_X: "0" });
  expect(r.code).toBe(0);
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]!.x).toBe("0");
});

test("always: starts again even with the variable set, and keeps the caller's value of it", () => {
  const always = script.replace(
    'reexecWithEnv({ UFFD_REEXEC_X: "1" });',
    'if (!process.env.UFFD_REEXEC_Y) reexecWithEnv({ UFFD_REEXEC_X: "1", UFFD_REEXEC_Y: "1" }, { always: true });',
  );
  const p = Bun.spawnSync([process.execPath, "-e", always], {
    env: { ...process.env, UFFD_REEXEC_X: "mine" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines = p.stdout
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { pid: number; x: string | null });
  expect(p.exitCode).toBe(0);
  expect(lines).toHaveLength(2);
  expect(lines[1]!.pid).toBe(lines[0]!.pid);
  expect(lines.map((l) => l.x)).toEqual(["mine", "mine"]);
});

test("SVE vector length: prctl numbers are <linux/prctl.h>'s; without SVE nothing is asked for", async () => {
  const { PR_SVE, SVE_VL_MIN, shortenSveOnExec, sveVectorLength } = await import("../src/sys/reexec.ts");
  expect(PR_SVE).toEqual({ SET_VL: 50, GET_VL: 51, VL_LEN_MASK: 0xffff, VL_INHERIT: 0x20000, SET_VL_ONEXEC: 0x40000 });
  expect(SVE_VL_MIN).toBe(16);
  const vl = sveVectorLength();
  if (process.arch !== "arm64") {
    expect(vl).toBeUndefined();
    expect(shortenSveOnExec()).toBe(false);
  } else if (vl !== undefined) {
    expect(vl % 16).toBe(0);
  }
});

test("splitNul: the NUL-terminated pieces, as bytes", async () => {
  const { splitNul } = await import("../src/sys/reexec.ts");
  const raw = Buffer.from([0x61, 0, 0xc3, 0xa9, 0, 0xff, 0]);
  expect(splitNul(raw).map((b) => [...b])).toEqual([[0x61], [0xc3, 0xa9], [0xff]]);
  expect(splitNul(Buffer.from("x")).map(String)).toEqual(["x"]);
  expect(splitNul(Buffer.alloc(0))).toEqual([]);
});
