// Handlers (harness/handlers.ts): the one way unit cases, stress and the
// bench start and stop fault handlers. Stop pages are fresh at each start and
// grow without an UNMAP event nobody reads; a stopped blocking-read uffd is
// non-blocking again; a failed handler is stopped around without a hang.
import { afterAll, describe, expect, test } from "bun:test";
import type { UffdTestContext } from "../src/harness/context.ts";
import { workerPool } from "../src/harness/pool.ts";
import { withContext as withSmallContext } from "./support/context.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";

const features = probeFeatures();
const PAGES = 8;
afterAll(() => workerPool().shutdown());

function withContext(opts: Parameters<typeof UffdTestContext.create>[1], fn: (ctx: UffdTestContext) => Promise<void>): Promise<void> {
  return withSmallContext("anon", { size: PAGES * 4096, ...opts }, fn);
}

describe("blocking-read handlers and their stop pages", () => {
  test.skipIf(!features.has("EVENT_UNMAP"))(
    "starts of 1, 3 and 2 handlers in a row: each stops, the stop pages grow without an UNMAP event",
    () =>
      withContext({ features: ["EVENT_UNMAP"] }, async (ctx) => {
        for (const count of [1, 3, 2]) {
          ctx.register({ missing: true });
          const h = await ctx.startHandlers({ mode: "read", count });
          expect((await ctx.verifyDst()).mismatches).toBe(0);
          const served = await ctx.stopHandlers();
          expect(served).toHaveLength(count);
          expect(served.reduce((n, s) => n + s.faults, 0)).toBe(PAGES);
          expect(h.counters.total("missing")).toBe(PAGES);
          expect(h.counters.total("unmap")).toBe(0);
          ctx.unregister();
          ctx.dst.release();
        }
      }),
  );

  test("after a stop the uffd is non-blocking again: reading it returns at once", () =>
    withContext({}, async (ctx) => {
      ctx.register({ missing: true });
      await ctx.startHandlers({ mode: "read", count: 2 });
      await ctx.verifyDst();
      await ctx.stopHandlers();
      expect(ctx.uffd.readEvents()).toEqual([]);
    }));

  test("stop() twice gives the same results", () =>
    withContext({}, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers({ mode: "read" });
      await ctx.verifyDst();
      const first = h.stop();
      expect(h.stop()).toBe(first);
      expect(await first).toEqual([{ faults: PAGES, adopted: 0 }]);
    }));
});

describe("a failed handler", () => {
  for (const mode of ["poll", "read"] as const) {
    test(`${mode}: failed rejects with its error, abandon() stops the other one and returns`, () =>
      withContext({}, async (ctx) => {
        ctx.register({ missing: true });
        const h = await ctx.startHandlers({ mode, count: 2, forbidWriteMissing: true });
        const write = ctx.touch({ start: ctx.dst.addr, pages: 1, pageSize: ctx.pageSize, op: "write", value: 1 });
        await expect(write).rejects.toThrow(/unexpected write fault/);
        await expect(h.failed).rejects.toThrow(/unexpected write fault/);
        const t0 = performance.now();
        await h.abandon(5_000);
        expect(performance.now() - t0).toBeLessThan(4_000);
        const settled = await Promise.allSettled(h.serving);
        expect(settled.map((s) => s.status).sort()).toEqual(["fulfilled", "rejected"]);
        await expect(h.stop()).rejects.toThrow(/unexpected write fault/);
        // The toucher still waits in its fault: unregistering wakes it.
        ctx.unregister();
      }));
  }
});
