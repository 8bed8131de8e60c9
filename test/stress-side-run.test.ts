// A stress row of `run` in its own process (beside the unit cases): its
// verdict is the one its KTAP gives, and only when the exit code agrees.
import { describe, expect, test } from "bun:test";
import { stressInChild } from "../src/suite/side-run.ts";

function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  return fn().finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

describe("stress in a child process", () => {
  test("a passing run: pass, with its bounce lines as notes", async () => {
    const r = await stressInChild(["anon", "4", "2"], "stress anon 4 2");
    expect(r.status).toBe("pass");
    expect(r.notes.filter((n) => n.startsWith("bounce "))).toHaveLength(2);
  }, 30_000);

  test("a planted wrong counter: fail", async () => {
    const r = await withEnv({ UFFD_SUITE_PLANT: "counter" }, () => stressInChild(["anon", "4", "8"], "stress anon 4 8"));
    expect(r.status).toBe("fail");
  }, 30_000);

  test("a result under another name is no verdict: fail, saying what was seen", async () => {
    const r = await stressInChild(["anon", "4", "2"], "stress anon 4 3");
    expect(r.status).toBe("fail");
    expect(r.notes.at(-1)).toBe("stress anon 4 3: stress process exited with code 0 with 'pass stress anon 4 2'");
  }, 30_000);
});
