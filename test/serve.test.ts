// The handler loop (serve.ts) strategy by strategy on small areas, with
// exact counts and contents: COPY, ZEROPAGE, MOVE, COPY with MODE_WP and
// the wp faults after it, minor faults with and without the flip check, a
// fault already resolved by someone else (EEXIST, then a wake), and the
// errors that must end a handler.
import { afterAll, describe, expect, test } from "bun:test";
import type { UffdTestContext } from "../src/harness/context.ts";
import { workerPool } from "../src/harness/pool.ts";
import { withContext as withSmallContext } from "./support/context.ts";
import { bytesAt } from "../src/sys/mem.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";

const features = probeFeatures();
const SIZE = 16 * 4096;
afterAll(() => workerPool().shutdown());

function withContext(
  mem: "anon" | "shmem",
  opts: Parameters<typeof UffdTestContext.create>[1],
  fn: (ctx: UffdTestContext) => Promise<void>,
): Promise<void> {
  return withSmallContext(mem, { size: SIZE, ...opts }, fn);
}

describe("missing faults", () => {
  for (const mode of ["poll", "read"] as const) {
    for (const count of [1, 2]) {
      test(`COPY, ${mode}, ${count} handler(s): one fault per page, every page its own`, () =>
        withContext("anon", {}, async (ctx) => {
          ctx.register({ missing: true });
          const h = await ctx.startHandlers({ mode, count });
          const r = await ctx.verifyDst();
          const served = await ctx.stopHandlers();
          expect(r).toEqual({ touched: ctx.pages, mismatches: 0 });
          expect(h.counters.total("missing")).toBe(ctx.pages);
          expect(h.counters.total("wp")).toBe(0);
          expect(served.reduce((n, s) => n + s.faults, 0)).toBe(ctx.pages);
          expect(served.every((s) => s.adopted === 0)).toBe(true);
        }));
    }
  }

  test.skipIf(!features.has("MISSING_SHMEM"))("COPY on shmem through two handlers in read mode", () =>
    withContext("shmem", { features: ["MISSING_SHMEM"] }, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers({ mode: "read", count: 2 });
      expect((await ctx.verifyDst()).mismatches).toBe(0);
      await ctx.stopHandlers();
      expect(h.counters.total("missing")).toBe(ctx.pages);
    }),
  );

  test("a handler copying the next page (wrong-page plant): the compare names the page it holds", () =>
    withContext("anon", { wrongPage: true }, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers();
      const r = await ctx.verifyDst();
      await ctx.stopHandlers();
      expect(r.firstMismatch?.wrongPage).toBe("page 0 holds page 1's data");
      // The last page wraps to the first.
      expect(r.mismatches).toBeGreaterThanOrEqual(ctx.pages);
      expect(h.counters.total("missing")).toBe(ctx.pages);
    }));

  for (const strategy of ["copy", "zeropage"] as const) {
    test.skipIf(!features.has("EXACT_ADDRESS"))(`${strategy} with EXACT_ADDRESS: a fault inside a page resolves that page`, () =>
      withContext("anon", { features: ["EXACT_ADDRESS"] }, async (ctx) => {
        ctx.register({ missing: true });
        const h = await ctx.startHandlers({ strategy });
        const r = await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "read", offset: 123 });
        await ctx.stopHandlers();
        expect(r.touched).toBe(ctx.pages);
        expect(h.counters.total("missing")).toBe(ctx.pages);
        // Read only now: every page is resolved and the handlers have stopped.
        if (strategy === "copy") expect(Buffer.compare(bytesAt(ctx.dst.addr, ctx.size), bytesAt(ctx.src.addr, ctx.size))).toBe(0);
        else expect(bytesAt(ctx.dst.addr, ctx.size).every((b) => b === 0)).toBe(true);
      }),
    );
  }

  test("ZEROPAGE: every page reads zero, one fault per page", () =>
    withContext("anon", {}, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers({ strategy: "zeropage" });
      const r = await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "read" });
      await ctx.stopHandlers();
      expect(r.touched).toBe(ctx.pages);
      expect(bytesAt(ctx.dst.addr, ctx.size).every((b) => b === 0)).toBe(true);
      expect(h.counters.total("missing")).toBe(ctx.pages);
    }));

  test.skipIf(!features.has("MOVE"))("MOVE: the destination gets the source's pages, the source is left empty", () =>
    withContext("anon", { features: ["MOVE"] }, async (ctx) => {
      const want = Uint8Array.from(bytesAt(ctx.src.addr, ctx.size));
      ctx.register({ missing: true });
      const h = await ctx.startHandlers({ strategy: "move", moveChunk: 2 * ctx.pageSize, forbidWriteMissing: true });
      const r = await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "read" });
      await ctx.stopHandlers();
      expect(r.touched).toBe(ctx.pages);
      expect(Buffer.compare(bytesAt(ctx.dst.addr, ctx.size), want)).toBe(0);
      expect(bytesAt(ctx.src.addr, ctx.size).every((b) => b === 0)).toBe(true);
      expect(h.counters.total("missing")).toBe(ctx.pages / 2);
    }),
  );

  test("a fault someone else resolved first: EEXIST, the waiter is woken, nothing counted", () =>
    withContext("anon", {}, async (ctx) => {
      ctx.register({ missing: true });
      // The fault is queued before any handler runs; then the page is filled without a wake.
      const at = 3 * ctx.pageSize;
      const reading = ctx.touch(
        { start: ctx.dst.addr + at, pages: 1, pageSize: ctx.pageSize, op: "read", compareWith: ctx.src.addr + at },
        { timeoutMs: 10_000 },
      );
      await Bun.sleep(150);
      ctx.uffd.copy(ctx.dst.addr + at, ctx.src.addr + at, ctx.pageSize, { dontWake: true });
      const h = await ctx.startHandlers();
      const r = await reading;
      const served = await ctx.stopHandlers();
      expect(r).toEqual({ touched: 1, mismatches: 0 });
      expect(served[0]!.faults).toBe(1);
      expect(h.counters.total("missing")).toBe(0);
    }));

  // Page 4 is even: the poison strategy poisons it (and gets EEXIST).
  for (const [strategy, need] of [
    ["zeropage", undefined],
    ["move", "MOVE"],
    ["poison", "POISON"],
  ] as const) {
    test.skipIf(need !== undefined && !features.has(need))(`${strategy}: EEXIST also wakes the waiter`, () =>
      withContext("anon", { features: need ? [need] : [] }, async (ctx) => {
        ctx.register({ missing: true });
        const at = 4 * ctx.pageSize;
        const reading = ctx.touch({ start: ctx.dst.addr + at, pages: 1, pageSize: ctx.pageSize, op: "read" }, { timeoutMs: 10_000 });
        await Bun.sleep(150);
        ctx.uffd.copy(ctx.dst.addr + at, ctx.src.addr + at, ctx.pageSize, { dontWake: true });
        const h = await ctx.startHandlers({ strategy });
        expect((await reading).touched).toBe(1);
        await ctx.stopHandlers();
        expect(h.counters.total("missing")).toBe(0);
      }),
    );
  }
});

describe("write-protect", () => {
  test.skipIf(!features.has("PAGEFAULT_FLAG_WP"))("COPY with MODE_WP: each first write is a wp fault, unprotected once", () =>
    withContext("anon", { features: ["PAGEFAULT_FLAG_WP"] }, async (ctx) => {
      ctx.register({ missing: true, wp: true });
      const h = await ctx.startHandlers({ applyWp: true, mode: "read" });
      expect((await ctx.verifyDst()).mismatches).toBe(0);
      expect(h.counters.total("wp")).toBe(0);
      await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "write", offset: 100, value: 7 });
      await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "write", offset: 200, value: 8 });
      await ctx.stopHandlers();
      expect(h.counters.total("missing")).toBe(ctx.pages);
      expect(h.counters.total("wp")).toBe(ctx.pages);
      expect(bytesAt(ctx.dst.addr + 3 * ctx.pageSize + 100, 1)[0]).toBe(7);
    }),
  );

  test.skipIf(!features.has("PAGEFAULT_FLAG_WP"))("COPY without MODE_WP: writes raise no wp fault", () =>
    withContext("anon", { features: ["PAGEFAULT_FLAG_WP"] }, async (ctx) => {
      ctx.register({ missing: true, wp: true });
      const h = await ctx.startHandlers();
      await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "read" });
      await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "write", offset: 100, value: 7 });
      await ctx.stopHandlers();
      expect(h.counters.total("wp")).toBe(0);
    }),
  );
});

describe("minor faults", () => {
  for (const minorCheck of [true, false]) {
    test.skipIf(!features.has("MINOR_SHMEM"))(`shmem, flip check ${minorCheck ? "on" : "off"}: one CONTINUE per page`, () =>
      withContext("shmem", { features: ["MINOR_SHMEM"] }, async (ctx) => {
        bytesAt(ctx.dst.addr, ctx.size).set(bytesAt(ctx.src.addr, ctx.size));
        ctx.register({ minor: true }, { view: "alias" });
        const h = await ctx.startHandlers({ registered: "alias", minorCheck });
        const r = await ctx.verifyDst({ view: "alias", xor: minorCheck ? 0xff : 0 });
        await ctx.stopHandlers();
        expect(r).toEqual({ touched: ctx.pages, mismatches: 0 });
        expect(h.counters.total("minor")).toBe(ctx.pages);
        expect(h.counters.total("missing")).toBe(0);
      }),
    );
  }

  test.skipIf(!features.has("MINOR_SHMEM"))("a minor fault to a copy handler is an error", () =>
    withContext("shmem", { features: ["MINOR_SHMEM"] }, async (ctx) => {
      bytesAt(ctx.dst.addr, ctx.size).fill(1);
      ctx.register({ minor: true }, { view: "alias" });
      await ctx.startHandlers({ registered: "alias", strategy: "zeropage" });
      await expect(ctx.verifyDst({ view: "alias" })).rejects.toThrow(
        /^HandlerError: minor fault at 0x[0-9a-f]+ with strategy zeropage$|minor fault at 0x[0-9a-f]+ with strategy zeropage/,
      );
      await expect(ctx.stopHandlers()).rejects.toThrow(/minor fault at 0x[0-9a-f]+ with strategy zeropage/);
    }),
  );
});

describe("errors end the handler", () => {
  for (const mode of ["poll", "read"] as const) {
    test(`a first touch that writes (${mode})`, () =>
      withContext("anon", {}, async (ctx) => {
        ctx.register({ missing: true });
        await ctx.startHandlers({ forbidWriteMissing: true, mode });
        const write = ctx.touch({ start: ctx.dst.addr + ctx.pageSize, pages: 1, pageSize: ctx.pageSize, op: "write", value: 1 });
        await expect(write).rejects.toThrow(
          `unexpected write fault at 0x${(ctx.dst.addr + ctx.pageSize).toString(16)} (a first touch must be a read)`,
        );
        await expect(ctx.stopHandlers()).rejects.toThrow(/unexpected write fault/);
      }));
  }

  test("a first touch that writes is fine unless forbidden", () =>
    withContext("anon", {}, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers();
      await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "write", value: 1 });
      await ctx.stopHandlers();
      expect(h.counters.total("missing")).toBe(ctx.pages);
    }));
});
