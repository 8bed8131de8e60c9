// explore: the operation sequences checked against the model find nothing
// on this kernel; each planted broken promise is found, shrunk to at most 6
// operations, and its replay line reproduces it (and only with the plant).
import { describe, expect, test } from "bun:test";
import { decodeReplay, encodeReplay, sequenceText } from "../src/explore/ops.ts";
import { parseDuration, parseOpList } from "../src/explore/options.ts";
import { childEnv, fromSource } from "./support/binary.ts";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function explore(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Run {
  const p = Bun.spawnSync([...fromSource(), "explore", ...args], {
    env: childEnv({ CONSOLA_LEVEL: "1", ...env }),
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** The numbered operation lines of a finding ("# 3 touch-write 0 (...)"). */
function opLines(out: string): string[] {
  return out.split("\n").filter((l) => /^# \d+ /.test(l));
}

function replayOf(out: string): string {
  const m = /^# replay: uffd-suite explore --replay '([^']+)'$/m.exec(out);
  if (!m) throw new Error(`no replay line in:\n${out}`);
  return m[1]!;
}

describe("explore on this kernel", () => {
  test("anon and shmem: no divergence, operations per second printed", () => {
    const r = explore(["--mem", "anon,shmem", "--time", "4s", "--seed", "5"]);
    expect(r.stdout).toContain("ok 1 explore on anon\n");
    expect(r.stdout).toContain("ok 2 explore on shmem\n");
    expect(r.stdout).not.toContain("not ok");
    const rates = [...r.stdout.matchAll(/operations in [\d.]+ s: (\d+) ops\/s/g)].map((m) => Number(m[1]));
    expect(rates).toHaveLength(2);
    for (const rate of rates) expect(rate).toBeGreaterThan(0);
    expect(r.code).toBe(0);
  }, 60_000);
});

// Each plant breaks one promise on the real side, as a kernel bug would.
const PLANTS = [
  { plant: "explore-skip-wake", shows: /did not complete within/ },
  { plant: "explore-mremap-wp", shows: /expected (minor fault \(flags 5\) or )?wp fault|uffd-wp false, expected true/ },
  { plant: "explore-copy-page", shows: /read 0x[0-9a-f]+, expected 0x/ },
] as const;

describe("planted divergences are found, shrunk and replayed", () => {
  for (const p of PLANTS) {
    test(p.plant, () => {
      // The default time (10 s) and every operation: nothing tells it where to look.
      const found = explore(["--mem", "anon", "--seed", "1"], { UFFD_SUITE_PLANT: p.plant });
      expect(found.stdout).toContain("not ok 1 explore on anon");
      expect(found.stdout).toMatch(p.shows);
      const lines = opLines(found.stdout);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.length).toBeLessThanOrEqual(6);
      expect(found.code).toBe(1);
      const enc = replayOf(found.stdout);
      const again = explore(["--replay", enc], { UFFD_SUITE_PLANT: p.plant });
      expect(again.stdout).toContain("not ok 1 explore on anon");
      expect(opLines(again.stdout)).toEqual(lines);
      // Without the plant the same sequence keeps every promise.
      const clean = explore(["--replay", enc]);
      expect(clean.stdout).toContain("ok 1 explore on anon\n");
      expect(clean.code).toBe(0);
    }, 90_000);
  }
});

describe("explore's input", () => {
  test("a sequence survives the replay encoding", () => {
    const seq = { features: ["EVENT_REMAP" as const], ops: [{ o: "reg" as const, a: 0, b: 8, m: 3 }, { o: "mremap" as const }] };
    const back = decodeReplay(encodeReplay("shmem", seq));
    expect(back).toEqual({ mem: "shmem", seq });
    expect(sequenceText(seq)).toEqual(["features: EVENT_REMAP", "1 register 0..8 missing|wp", "2 mremap all -> other place"]);
  });

  test("durations and operation lists", () => {
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("60s")).toBe(60_000);
    expect(parseDuration("90")).toBe(90_000);
    expect(parseDuration("5x")).toBeUndefined();
    expect(parseOpList("register,touch-write,wp")).toEqual(["reg", "touch", "wp"]);
    expect(parseOpList("nope")).toContain("unknown operation 'nope'");
  });

  test.each([
    [["--runs", "5", "--time", "5s"], "give --runs or --time"],
    [["--mem", "nope"], "unknown memory type 'nope'"],
    [["--replay", "anon:%%%"], "--replay"],
    [["--format", "xml"], "--format must be ktap or json"],
  ])("bad usage %p exits 2", (args, says) => {
    const r = explore(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(says);
  });
});
