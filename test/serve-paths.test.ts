// The handler loop's less travelled paths on small areas, fast enough to run
// once per mutant (scripts/mutate.ts): the poison strategy, fork events
// followed and closed, remap and remove events, the stop pipe's and the stop
// page's edge cases, and faults outside the handler's ranges. The
// "inline" tests run serve() on this thread (it blocks until stopped) while
// a toucher Worker takes the faults, so a job can say what no Handlers
// start would (a bad stop pipe, a smaller destination than registered).
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { UffdTestContext } from "../src/harness/context.ts";
import { HandlerCounters } from "../src/harness/counters.ts";
import { MEMORY } from "../src/harness/memory.ts";
import { runFaultJob } from "../src/harness/native-fault.ts";
import { workerPool } from "../src/harness/pool.ts";
import { withContext as withSmallContext } from "./support/context.ts";
import type { ServeJob, ServeResult, TouchJob, TouchResult } from "../src/harness/protocol.ts";
import { HandlerError, RemovedSpan, serve } from "../src/harness/serve.ts";
import { close, pipe, writeByte } from "../src/sys/fd.ts";
import { Errno, SysError } from "../src/sys/errno.ts";
import { bytesAt, MADV, madvise, MAP, mmap, munmap, PROT } from "../src/sys/mem.ts";
import { runEventsChild } from "../src/sys/native/forked.ts";
import { eventsChildArgs } from "../src/unit/cases/events.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";

const features = probeFeatures();
const PAGES = 16;
const SIZE = PAGES * 4096;
afterAll(() => workerPool().shutdown());

function withContext(opts: Parameters<typeof UffdTestContext.create>[1], fn: (ctx: UffdTestContext) => Promise<void>): Promise<void> {
  return withSmallContext("anon", { size: SIZE, ...opts }, fn);
}

describe("poison", () => {
  test.skipIf(!features.has("POISON"))("even pages are poisoned (SIGBUS), odd pages get the source page", () =>
    withContext({ features: ["POISON"] }, async (ctx) => {
      ctx.register({ missing: true });
      bytesAt(ctx.src.addr, ctx.size).fill(0);
      const h = await ctx.startHandlers({ strategy: "poison" });
      let r;
      let served: ServeResult[] = [];
      try {
        r = await runFaultJob(ctx, "poison-scan", { dst: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize }, { timeoutMs: 10_000 });
      } finally {
        served = await ctx.stopHandlers();
      }
      expect(r.signalled).toEqual(Array.from({ length: PAGES / 2 }, (_, i) => 2 * i));
      expect(r.sigbus).toBe(PAGES / 2);
      expect(r.nonZero).toBe(0);
      expect(h.counters.total("missing")).toBe(PAGES);
      expect(served[0]!.faults).toBe(PAGES);
    }),
  );

  test.skipIf(!features.has("POISON"))("odd pages hold their own source page, not the next one", () =>
    withContext({ features: ["POISON"] }, async (ctx) => {
      ctx.register({ missing: true });
      const src = bytesAt(ctx.src.addr, ctx.size);
      for (let p = 0; p < PAGES; p++) src.fill(p + 1, p * ctx.pageSize, (p + 1) * ctx.pageSize);
      const h = await ctx.startHandlers({ strategy: "poison" });
      let r;
      try {
        r = await runFaultJob(ctx, "poison-scan", { dst: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize }, { timeoutMs: 10_000 });
      } finally {
        await ctx.stopHandlers();
      }
      expect(r.sigbus).toBe(PAGES / 2);
      // Every odd page reads non-zero: its own source page's byte.
      expect(r.nonZero).toBe(PAGES / 2);
      expect(r.firstNonZero).toEqual({ page: 1, offset: 0, value: 2 });
      expect(h.counters.total("missing")).toBe(PAGES);
    }),
  );
});

describe("events", () => {
  const need = ["EVENT_FORK", "EVENT_REMAP", "EVENT_REMOVE"] as const;
  const lacking = features.missing([...need]).length > 0;

  test.skipIf(lacking)("fork followed, remap moves the destination, remove unregisters: the child sees every page", () =>
    withContext({ features: [...need] }, async (ctx) => {
      ctx.register({ missing: true });
      const fds = readdirSync("/proc/self/fd").length;
      const h = await ctx.startHandlers({ onFork: "follow", forbidWriteMissing: true });
      let child;
      let served: ServeResult[] = [];
      try {
        child = await runEventsChild(eventsChildArgs(ctx, { expected: ctx.countVerify, releaseAdvice: MADV.DONTNEED }), {
          timeoutMs: 20_000,
        });
      } finally {
        served = await ctx.stopHandlers();
      }
      expect(child.status).toEqual({ kind: "exited", code: 0 });
      const c = h.counters;
      expect([c.total("fork"), c.total("remap"), c.total("missing"), c.total("unmap")]).toEqual([1, 1, PAGES, 0]);
      expect(c.total("remove")).toBeGreaterThanOrEqual(1);
      expect(served).toEqual([{ faults: PAGES, adopted: 1 }]);
      // The child's uffd, adopted on the fork event, was closed when the handler stopped.
      expect(readdirSync("/proc/self/fd").length).toBe(fds);
    }),
  );

  test.skipIf(lacking)("fork closed: the child's uffd is dropped, its faults never reach the handler", () =>
    withContext({ features: [...need] }, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers({ onFork: "close" });
      let child;
      let served: ServeResult[] = [];
      try {
        child = await runEventsChild(eventsChildArgs(ctx, { expected: ctx.countVerify, releaseAdvice: MADV.DONTNEED, tags: false }), {
          timeoutMs: 20_000,
        });
      } finally {
        served = await ctx.stopHandlers();
      }
      // Without its uffd the child reads zero pages: the first counter is wrong.
      expect(child.status).toEqual({ kind: "exited", code: 1 });
      expect(child.page).toBe(0);
      expect([h.counters.total("fork"), h.counters.total("missing"), h.counters.total("remap")]).toEqual([1, 0, 0]);
      expect(served).toEqual([{ faults: 0, adopted: 0 }]);
    }),
  );
});

describe("move", () => {
  test.skipIf(!features.has("MOVE"))("MOVE by two pages, first fault on an odd page: the chunk starts at the even page below", () =>
    withContext({ features: ["MOVE"] }, async (ctx) => {
      const want = Uint8Array.from(bytesAt(ctx.src.addr, ctx.size));
      ctx.register({ missing: true });
      const h = await ctx.startHandlers({ strategy: "move", moveChunk: 2 * ctx.pageSize });
      const r = await ctx.touch({ start: ctx.dst.addr + ctx.pageSize, pages: PAGES - 1, pageSize: ctx.pageSize, op: "read" });
      await ctx.stopHandlers();
      expect(r.touched).toBe(PAGES - 1);
      expect(Buffer.compare(bytesAt(ctx.dst.addr, ctx.size), want)).toBe(0);
      expect(h.counters.total("missing")).toBe(PAGES / 2);
    }),
  );

  test.skipIf(!features.has("MOVE"))("MOVE without a chunk size moves one page per fault", () =>
    withContext({ features: ["MOVE"] }, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers({ strategy: "move" });
      const r = await ctx.touch({ start: ctx.dst.addr, pages: PAGES, pageSize: ctx.pageSize, op: "read" });
      await ctx.stopHandlers();
      expect(r.touched).toBe(PAGES);
      expect(h.counters.total("missing")).toBe(PAGES);
    }),
  );
});

/** A job for serve() on this thread over ctx's areas; `job` overrides. */
function inlineJob(ctx: UffdTestContext, counters: HandlerCounters, job: Partial<ServeJob> & { stopFd: number }): ServeJob {
  return {
    type: "serve",
    uffdFd: ctx.uffd.fd,
    strategy: "copy",
    dst: ctx.dst.addr,
    dstAlias: ctx.dst.addr,
    src: ctx.src.addr,
    size: ctx.size,
    pageSize: ctx.pageSize,
    applyWp: false,
    forbidWriteMissing: false,
    onFork: "follow",
    counters: counters.buffer,
    slot: 0,
    ...job,
  };
}

/**
 * Start each touch on a toucher Worker, let their faults queue (one batch),
 * then serve `job` on this thread until it stops or throws. After an error
 * the range is unregistered, which wakes the touchers (their faults retry as
 * ordinary ones).
 */
async function serveInline(
  ctx: UffdTestContext,
  job: ServeJob,
  touches: Omit<TouchJob, "type">[],
  opts: { beforeServe?: () => void; view?: "dst" | "alias" } = {},
): Promise<{ served?: ServeResult; error?: Error; touched: TouchResult[] }> {
  const workers = await Promise.all(touches.map(() => ctx.pool.acquire("toucher")));
  const touching = touches.map((t, i) => workers[i]!.run<TouchResult>({ type: "touch", ...t }, { timeoutMs: 5_000 }));
  await Bun.sleep(250);
  opts.beforeServe?.();
  let served: ServeResult | undefined;
  let error: Error | undefined;
  try {
    served = serve(job);
  } catch (e) {
    error = e as Error;
    ctx.unregister({ view: opts.view });
    // A minor fault on shmem is not woken by the unregister alone (6.18).
    ctx.uffd.tryWake(opts.view === "alias" ? ctx.dst.alias : ctx.dst.addr, ctx.size);
  }
  try {
    return { served, error, touched: await Promise.all(touching) };
  } finally {
    for (const w of workers) ctx.pool.release(w);
  }
}

async function withPipe(fn: (r: number, w: number) => Promise<void>): Promise<void> {
  const [r, w] = pipe();
  try {
    await fn(r, w);
  } finally {
    close(r);
    close(w);
  }
}

describe("inline: stop page, stop pipe, faults outside the ranges", () => {
  test.skipIf(!features.has("EXACT_ADDRESS"))(
    "a stop page right below the destination, faulted mid-page: the page above is served, the stop fault ends the loop",
    () =>
      withContext({ features: ["EXACT_ADDRESS"] }, async (ctx) => {
        ctx.register({ missing: true });
        const ps = ctx.pageSize;
        const counters = new HandlerCounters(1);
        await withPipe(async (r) => {
          // Destination: pages 1..15; stop page: page 0.
          const job = inlineJob(ctx, counters, {
            stopFd: r,
            dst: ctx.dst.addr + ps,
            size: ctx.size - ps,
            src: ctx.src.addr + ps,
            stopPages: { start: ctx.dst.addr, len: ps },
          });
          const out = await serveInline(ctx, job, [
            { start: ctx.dst.addr + ps, pages: 1, pageSize: ps, op: "read", compareWith: ctx.src.addr + ps },
            { start: ctx.dst.addr, pages: 1, pageSize: ps, op: "read", offset: 123 },
          ]);
          expect(out.error).toBeUndefined();
          expect(out.served).toEqual({ faults: 1, adopted: 0 });
          expect(out.touched).toEqual([
            { touched: 1, mismatches: 0 },
            { touched: 1, mismatches: 0 },
          ]);
          expect(counters.total("missing")).toBe(1);
          expect(bytesAt(ctx.dst.addr, ps).every((b) => b === 0)).toBe(true);
        });
      }),
  );

  test("a stop page someone else mapped first: EEXIST, its waiter is still woken", () =>
    withContext({}, async (ctx) => {
      ctx.register({ missing: true });
      const ps = ctx.pageSize;
      const counters = new HandlerCounters(1);
      await withPipe(async (r) => {
        const stop = ctx.dst.addr + 5 * ps;
        const job = inlineJob(ctx, counters, { stopFd: r, stopPages: { start: stop, len: ps } });
        const out = await serveInline(ctx, job, [{ start: stop, pages: 1, pageSize: ps, op: "read" }], {
          beforeServe: () => ctx.uffd.copy(stop, ctx.src.addr, ps, { dontWake: true }),
        });
        expect(out.served).toEqual({ faults: 0, adopted: 0 });
        expect(out.touched).toEqual([{ touched: 1, mismatches: 0 }]);
      });
    }));

  test("a byte down the stop pipe: the loop returns at once", () =>
    withContext({}, async (ctx) => {
      const counters = new HandlerCounters(1);
      await withPipe(async (r, w) => {
        writeByte(w);
        expect(serve(inlineJob(ctx, counters, { stopFd: r }))).toEqual({ faults: 0, adopted: 0 });
      });
    }));

  test("a stop pipe hung up without a byte is an error", () =>
    withContext({}, async (ctx) => {
      const counters = new HandlerCounters(1);
      const [r, w] = pipe();
      close(w);
      try {
        expect(() => serve(inlineJob(ctx, counters, { stopFd: r }))).toThrow(new HandlerError("stop pipe revents 16"));
      } finally {
        close(r);
      }
    }));

  for (const where of ["below", "above"] as const) {
    test(`a fault ${where} the handler's destination is an error`, () =>
      withContext({}, async (ctx) => {
        ctx.register({ missing: true });
        const ps = ctx.pageSize;
        const counters = new HandlerCounters(1);
        await withPipe(async (r) => {
          // Destination: pages 1..14 of the registered 16.
          const job = inlineJob(ctx, counters, { stopFd: r, dst: ctx.dst.addr + ps, size: ctx.size - 2 * ps });
          const at = where === "below" ? ctx.dst.addr : ctx.dst.addr + 15 * ps;
          const out = await serveInline(ctx, job, [{ start: at, pages: 1, pageSize: ps, op: "read" }]);
          expect(out.error).toEqual(new HandlerError(`fault at 0x${at.toString(16)} outside the destination`));
          expect(out.error?.name).toBe("HandlerError");
          expect(counters.total("missing")).toBe(0);
        });
      }));
  }

  test.skipIf(!features.has("MINOR_SHMEM"))("a minor fault outside the handler's alias view is an error", async () => {
    const ctx = UffdTestContext.create(MEMORY.shmem, { size: SIZE, features: ["MINOR_SHMEM"] });
    try {
      bytesAt(ctx.dst.addr, ctx.size).fill(1);
      ctx.register({ minor: true }, { view: "alias" });
      const ps = ctx.pageSize;
      const counters = new HandlerCounters(1);
      await withPipe(async (r) => {
        for (const at of [0, 15]) {
          const job = inlineJob(ctx, counters, { stopFd: r, dstAlias: ctx.dst.alias + ps, size: ctx.size - 2 * ps });
          const addr = ctx.dst.alias + at * ps;
          const out = await serveInline(ctx, job, [{ start: addr, pages: 1, pageSize: ps, op: "read" }], { view: "alias" });
          expect(out.error).toEqual(new HandlerError(`minor fault at 0x${addr.toString(16)} outside the alias view`));
          // The retry after the wake faulted the alias in (with fault-around): drop it again.
          madvise(ctx.dst.alias, ctx.size, MADV.DONTNEED);
          ctx.register({ minor: true }, { view: "alias" });
        }
      });
      expect(counters.total("minor")).toBe(0);
    } finally {
      await ctx.dispose();
    }
  });
});

describe("inline: a resolve that fails for another reason than EEXIST ends the handler", () => {
  for (const strategy of ["copy", "move"] as const) {
    test.skipIf(strategy === "move" && !features.has("MOVE"))(
      `${strategy} from an unreadable source: the error names the ioctl, the offset and the result`,
      () =>
        withContext({ features: strategy === "move" ? ["MOVE"] : [] }, async (ctx) => {
          ctx.register({ missing: true });
          const ps = ctx.pageSize;
          const counters = new HandlerCounters(1);
          const unreadable = mmap(ctx.size, { prot: PROT.NONE });
          try {
            await withPipe(async (r) => {
              const job = inlineJob(ctx, counters, { stopFd: r, strategy, src: unreadable });
              const out = await serveInline(ctx, job, [{ start: ctx.dst.addr + 2 * ps, pages: 1, pageSize: ps, op: "read" }]);
              const e = out.error as SysError;
              expect(e).toBeInstanceOf(SysError);
              const call = strategy === "copy" ? "UFFDIO_COPY" : "UFFDIO_MOVE";
              // COPY cannot read the source (EFAULT); MOVE refuses areas of other protections (EINVAL).
              const errno = strategy === "copy" ? Errno.EFAULT : Errno.EINVAL;
              expect(e.message).toBe(new SysError(call, errno, `dst offset ${2 * ps}, result ${-errno}`).message);
              expect(counters.total("missing")).toBe(0);
            });
          } finally {
            munmap(unreadable, ctx.size);
          }
        }),
    );
  }
});

describe("write-protect and unmap", () => {
  test.skipIf(features.missing(["PAGEFAULT_FLAG_WP", "EXACT_ADDRESS"]).length > 0)(
    "wp faults mid-page (EXACT_ADDRESS): the whole page is unprotected, once",
    () =>
      withContext({ features: ["PAGEFAULT_FLAG_WP", "EXACT_ADDRESS"] }, async (ctx) => {
        ctx.register({ missing: true, wp: true });
        const h = await ctx.startHandlers({ applyWp: true });
        expect((await ctx.verifyDst()).mismatches).toBe(0);
        const ps = ctx.pageSize;
        await ctx.touch({ start: ctx.dst.addr, pages: PAGES, pageSize: ps, op: "write", offset: 100, value: 7 });
        await ctx.touch({ start: ctx.dst.addr, pages: PAGES, pageSize: ps, op: "write", offset: 200, value: 8 });
        await ctx.stopHandlers();
        expect([h.counters.total("missing"), h.counters.total("wp")]).toEqual([PAGES, PAGES]);
      }),
  );

  test.skipIf(!features.has("EVENT_UNMAP"))("an UNMAP event (the destination replaced in one MAP_FIXED step) is counted", () =>
    withContext({ features: ["EVENT_UNMAP"] }, async (ctx) => {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers();
      // This thread blocks in mmap until the handler Worker has read the event.
      mmap(ctx.size, { addr: ctx.dst.addr, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED });
      const served = await ctx.stopHandlers();
      expect([h.counters.total("unmap"), h.counters.total("missing")]).toEqual([1, 0]);
      expect(served).toEqual([{ faults: 0, adopted: 0 }]);
    }),
  );
});

describe("the span of removed ranges", () => {
  const ENOENT = -Errno.ENOENT;
  test("empty: explains nothing", () => {
    const s = new RemovedSpan();
    expect([s.explains(ENOENT, 0), s.explains(ENOENT, 4096)]).toEqual([false, false]);
  });

  test("one range: ENOENT inside it, and only ENOENT", () => {
    const s = new RemovedSpan();
    s.add(0x10000, 0x20000);
    expect([0xffff, 0x10000, 0x1ffff, 0x20000].map((a) => s.explains(ENOENT, a))).toEqual([false, true, true, false]);
    expect(s.explains(-Errno.EEXIST, 0x10000)).toBe(false);
    expect(s.explains(0, 0x10000)).toBe(false);
  });

  test("more ranges: the span from the lowest start to the highest end", () => {
    const s = new RemovedSpan();
    s.add(0x30000, 0x40000);
    s.add(0x10000, 0x20000);
    s.add(0x50000, 0x60000);
    s.add(0x20000, 0x30000);
    expect([0xffff, 0x10000, 0x25000, 0x5ffff, 0x60000].map((a) => s.explains(ENOENT, a))).toEqual([false, true, true, true, false]);
  });
});
