// Errors are failures: a case that throws anything but a declared
// "feature/resource missing" condition is not ok, naming the error; the
// check helpers fail with what was expected and seen. In-process (runCase).
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { UffdTestContext } from "../src/harness/context.ts";
import { MEMORY } from "../src/harness/memory.ts";
import { workerPool } from "../src/harness/pool.ts";
import { FeatureSet } from "../src/uffd/bits.ts";
import { MissingFeatureError } from "../src/uffd/errors.ts";
import { type CaseRun, CheckFailure, type UnitCase } from "../src/unit/case.ts";
import { plantedFromEnv, runCase, show } from "../src/unit/run-case.ts";
import { THROWN, thrownCases } from "../src/unit/thrown-cases.ts";

const kernel = new FeatureSet(0n);
afterAll(() => workerPool().shutdown());

function memoryless(run: (t: CaseRun) => unknown): UnitCase {
  return { name: "probe", description: "", memory: "none", features: [], origin: "suite", run: async (t) => void (await run(t)) };
}

/** What each thrown case's last diagnostic (a failure) or reason (a skip) must say. */
const SAYS: Readonly<Record<string, string>> = {
  "thrown-sys-error": "SysError: UFFDIO_REGISTER (a call that should work): EINVAL (Invalid argument)",
  "thrown-ioctl-error": "SysError: UFFDIO_COPY (4096 bytes done): EAGAIN",
  "thrown-handler-error": "HandlerError: fault at 0x1000 outside the destination",
  "thrown-type-error": "TypeError: ",
  "thrown-rejection": "RangeError: out of range",
  "thrown-string": "thrown: a bare string",
  "thrown-undefined": "thrown: undefined",
  "thrown-check": "a check: expected 1, seen 2",
  "thrown-in-clean-up": "clean-up failed: SysError: munmap: EINVAL",
  "thrown-missing-nothing": "MissingFeatureError: userfaultfd feature missing:",
  "thrown-blank-skip": "a skip without a reason",
  "thrown-missing-feature": "feature missing: MOVE",
  "thrown-skip": "not enough HugeTLB pages (need 2, free 0)",
};

describe("each kind of error a case throws gets its verdict", () => {
  for (const [i, [name, verdict]] of THROWN.entries()) {
    test(`${name}: ${verdict}`, async () => {
      const r = await runCase(thrownCases[i]!, undefined, { kernel });
      expect(r.status).toBe(verdict);
      if (verdict === "skip") {
        expect(r.reason).toBe(SAYS[name]!);
        expect(r.diagnostics).toEqual([]);
      } else {
        expect(r.reason).toBeUndefined();
        expect(r.diagnostics.at(-1)!.startsWith(SAYS[name]!)).toBe(true);
      }
      expect(r.ms).toBeGreaterThanOrEqual(0);
      expect(r.ms).toBeLessThan(10_000);
    });
  }
  test("every thrown case has its expectation", () => {
    expect(Object.keys(SAYS).sort()).toEqual(THROWN.map(([n]) => n).sort());
  });
});

describe("check helpers", () => {
  test("a passing case keeps its notes, one line each", async () => {
    const r = await runCase(
      memoryless((t) => {
        t.note("first\n  second");
        t.check(true, "fine", { expected: 1, seen: 1 });
        t.equal("same", 2, 2);
      }),
      undefined,
      { kernel },
    );
    expect(r).toMatchObject({ status: "pass", diagnostics: ["first second"] });
  });

  test("check and equal fail with expected and seen, after the notes", async () => {
    const bad = await runCase(
      memoryless((t) => {
        t.note("before");
        t.equal("count", 3, 4);
      }),
      undefined,
      { kernel },
    );
    expect(bad).toMatchObject({ status: "fail", diagnostics: ["before", "count: expected 4, seen 3"] });
    const chk = await runCase(
      memoryless((t) => t.check(false, "flag", { expected: "set", seen: 0x10n })),
      undefined,
      { kernel },
    );
    expect(chk.diagnostics).toEqual(["flag: expected set, seen 0x10"]);
    const first = await runCase(
      memoryless((t) => {
        t.equal("a", 1, 2);
        t.equal("b", 1, 3);
      }),
      undefined,
      { kernel },
    );
    expect(first.diagnostics).toEqual(["a: expected 2, seen 1"]);
  });

  test("a skip keeps the notes made before it, and its reason on one line", async () => {
    const r = await runCase(
      memoryless((t) => {
        t.note("why");
        t.skip("feature missing:\n MOVE");
      }),
      undefined,
      { kernel },
    );
    expect(r).toMatchObject({ status: "skip", reason: "feature missing: MOVE", diagnostics: ["why"] });
  });

  test("clean-ups run last first, all of them, and a failing one fails only a passing case", async () => {
    const order: number[] = [];
    const r = await runCase(
      memoryless((t) => {
        t.defer(() => void order.push(1));
        t.defer(async () => {
          order.push(2);
          throw new Error("first clean-up");
        });
        t.defer(() => {
          order.push(3);
          throw new Error("second clean-up");
        });
      }),
      undefined,
      { kernel },
    );
    expect(order).toEqual([3, 2, 1]);
    expect(r).toMatchObject({ status: "fail", diagnostics: ["clean-up failed: second clean-up"] });
    const failed = await runCase(
      memoryless((t) => {
        t.defer(() => {
          throw new Error("clean-up");
        });
        t.equal("x", 1, 2);
      }),
      undefined,
      { kernel },
    );
    expect(failed.diagnostics).toEqual(["x: expected 2, seen 1"]);
    const skipped = await runCase(
      memoryless((t) => {
        t.defer(() => {
          throw new Error("clean-up after a skip");
        });
        t.skip("feature missing: MOVE");
      }),
      undefined,
      { kernel },
    );
    expect(skipped).toMatchObject({ status: "fail", diagnostics: ["clean-up failed: clean-up after a skip"] });
  });

  test("a memory-less case asking for a context fails, naming the case", async () => {
    const r = await runCase(
      memoryless((t) => t.context()),
      undefined,
      { kernel },
    );
    expect(r).toMatchObject({ status: "fail", diagnostics: ["case probe has no memory type to make a context on"] });
  });

  test("the case sees the kernel's features and no plant unless asked", async () => {
    let seen: unknown[] = [];
    await runCase(
      memoryless((t) => void (seen = [t.kernel, t.mem, [...t.planted.plant]])),
      undefined,
      { kernel },
    );
    expect(seen).toEqual([kernel, undefined, []]);
    await runCase(
      memoryless((t) => void (seen = [...t.planted.plant])),
      undefined,
      { kernel, planted: { plant: new Set(["counter"]) } },
    );
    expect(seen).toEqual(["counter"]);
  });

  test("every missing feature is named; a check failure without lines gives its message", async () => {
    const two = await runCase(
      memoryless(() => {
        throw new MissingFeatureError(["MOVE", "POISON"]);
      }),
      undefined,
      { kernel },
    );
    expect(two.reason).toBe("feature missing: MOVE, POISON");
    const bare = await runCase(
      memoryless(() => {
        throw new CheckFailure("just the\nmessage");
      }),
      undefined,
      { kernel },
    );
    expect(bare.diagnostics).toEqual(["just the message"]);
  });

  test("a case with memory gets a context on it, disposed after the case", async () => {
    let ctx: UffdTestContext | undefined;
    const c: UnitCase = { ...memoryless((t) => void (ctx = t.context({ size: 2 * 4096 }))), memory: ["anon"] };
    const r = await runCase(c, MEMORY.anon, { kernel });
    expect(r.status).toBe("pass");
    expect(ctx!.mem).toBe(MEMORY.anon);
    expect(ctx!.pages).toBe(2);
    const mapped = readFileSync("/proc/self/maps", "utf8");
    expect(mapped).not.toContain(`${ctx!.src.addr.toString(16)}-`);
    expect(mapped).not.toContain(`${ctx!.dst.addr.toString(16)}-`);
  });

  test("plants come from UFFD_SUITE_PLANT", () => {
    expect([...plantedFromEnv({ UFFD_SUITE_PLANT: "counter, wrong-page" }).plant]).toEqual(["counter", "wrong-page"]);
    expect(plantedFromEnv({}).plant.size).toBe(0);
  });

  test("ms: the case's own time", async () => {
    const t0 = performance.now();
    const r = await runCase(
      memoryless(() => Bun.sleep(30)),
      undefined,
      { kernel },
    );
    const wall = performance.now() - t0;
    expect(r.ms).toBeGreaterThanOrEqual(29);
    expect(r.ms).toBeLessThanOrEqual(Math.ceil(wall) + 1);
  });

  test("show: values as diagnostics print them", () => {
    expect(show(255n)).toBe("0xff");
    expect(show("text")).toBe("text");
    expect(show(undefined)).toBe("undefined");
    expect(show({ a: 1n, b: [2] })).toBe('{"a":"0x1","b":[2]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(show(cyclic)).toBe("[object Object]");
  });
});
