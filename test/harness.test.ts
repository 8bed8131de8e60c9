// The uffd-common layer on the real kernel: every memory type serves faults
// raised from a Worker, with exact counts and verified contents.
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { HandlerCounters, statsLine } from "../src/harness/counters.ts";
import { hugepagesNeeded, UffdTestContext } from "../src/harness/context.ts";
import { hugepageState, reserveHugepages } from "../src/machine/hugepages.ts";
import { MEMORY, MEMORY_NAMES, type MemoryType } from "../src/harness/memory.ts";
import { workerPool } from "../src/harness/pool.ts";
import { MADV, madvise, mremap, MREMAP, munmap } from "../src/sys/mem.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";

const features = probeFeatures();

function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
}
function fds(): string[] {
  return readdirSync("/proc/self/fd").sort();
}

function missingFeatureFor(mem: MemoryType): string | undefined {
  return mem.missingFeature && !features.has(mem.missingFeature) ? mem.missingFeature : undefined;
}

afterAll(() => workerPool().shutdown());

describe("missing faults served from a handler Worker", () => {
  for (const name of MEMORY_NAMES) {
    const mem = MEMORY[name];
    for (const mode of ["poll", "read"] as const) {
      const needs = mem.missingFeature ? ` (needs ${mem.missingFeature})` : "";
      test.skipIf(missingFeatureFor(mem) !== undefined)(
        `${name} (${mode}): >= 1,000 faults, exact counts, contents verified${needs}`,
        async () => {
          // Huge pages: 16 per area at the default size; rounds until 1,000 faults.
          const size = mem.hugetlb ? 32 * hugepageState().size : 8 * 1024 * 1024;
          using _res = mem.hugetlb ? reserveHugepages(hugepagesNeeded(mem, size)) : undefined;
          const ctx = UffdTestContext.create(mem, { features: mem.missingFeature ? [mem.missingFeature] : [], size });
          try {
            ctx.register({ missing: true });
            let total = 0;
            let rounds = 0;
            while (total < 1000) {
              const h = await ctx.startHandlers({ count: 2, mode, forbidWriteMissing: true });
              const r = await ctx.verifyDst();
              await ctx.stopHandlers();
              expect(r.mismatches).toBe(0);
              expect(r.touched).toBe(ctx.pages);
              expect(h.counters.total("missing")).toBe(ctx.pages);
              total += h.counters.total("missing");
              rounds++;
              ctx.dst.release();
            }
            expect(total).toBeGreaterThanOrEqual(1000);
            expect(rounds).toBeGreaterThan(0);
          } finally {
            await ctx.dispose();
          }
        },
      );
    }
  }
});

test.skipIf(!features.has("PAGEFAULT_FLAG_WP"))(
  "wp faults: COPY with MODE_WP, then every write is a wp fault that the handler unprotects (needs PAGEFAULT_FLAG_WP)",
  async () => {
    const ctx = UffdTestContext.create(MEMORY.anon, { features: ["PAGEFAULT_FLAG_WP"], size: 4 * 1024 * 1024 });
    try {
      ctx.register({ missing: true, wp: true });
      const h = await ctx.startHandlers({ applyWp: true });
      expect((await ctx.verifyDst()).mismatches).toBe(0);
      await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize, op: "write", offset: 100, value: 7 });
      await ctx.stopHandlers();
      expect(h.counters.total("missing")).toBe(ctx.pages);
      expect(h.counters.total("wp")).toBe(ctx.pages);
      expect(statsLine(h.counters)).toBe(`userfaults: ${ctx.pages} missing (${ctx.pages}) ${ctx.pages} wp (${ctx.pages})`);
    } finally {
      await ctx.dispose();
    }
  },
);

for (const name of ["shmem", "hugetlb"] as const) {
  const mem = MEMORY[name];
  const feat = mem.minorFeature!;
  test.skipIf(!features.has(feat))(
    `minor faults on ${name}: handler flips bytes through the other view, CONTINUE, repeat gives EEXIST (needs ${feat})`,
    async () => {
      const size = mem.hugetlb ? 8 * hugepageState().size : 4 * 1024 * 1024;
      using _res = mem.hugetlb ? reserveHugepages(hugepagesNeeded(mem, size)) : undefined;
      const ctx = UffdTestContext.create(mem, { features: [feat], size });
      try {
        // Fill the page cache through the unregistered view, register the alias for minor faults.
        const { bytesAt } = await import("../src/sys/mem.ts");
        bytesAt(ctx.dst.addr, size).set(bytesAt(ctx.src.addr, size));
        ctx.register({ minor: true }, { view: "alias" });
        const h = await ctx.startHandlers({ registered: "alias" });
        const r = await ctx.verifyDst({ view: "alias", xor: 0xff });
        await ctx.stopHandlers();
        expect(r.mismatches).toBe(0);
        expect(h.counters.total("minor")).toBe(ctx.pages);
        expect(h.counters.total("missing")).toBe(0);
      } finally {
        await ctx.dispose();
      }
    },
  );
}

const EVENTS_NEEDED = ["EVENT_REMOVE", "EVENT_REMAP"] as const;
test.skipIf(!EVENTS_NEEDED.every((f) => features.has(f)))(
  `remove and remap events are followed by the handler (needs ${EVENTS_NEEDED.join(", ")})`,
  async () => {
    const ctx = UffdTestContext.create(MEMORY.anon, { features: [...EVENTS_NEEDED], size: 2 * 1024 * 1024 });
    try {
      ctx.register({ missing: true });
      const h = await ctx.startHandlers();
      expect((await ctx.verifyDst()).mismatches).toBe(0);
      // Dropping registered pages raises REMOVE; the handler unregisters that range.
      const half = ctx.size / 2;
      madvise(ctx.dst.addr + half, half, MADV.DONTNEED);
      // Moving the registered area raises REMAP; the handler follows the destination.
      // Growing the first half into the mapped second half forces a move.
      const moved = mremap(ctx.dst.addr, half, half + ctx.pageSize, { flags: MREMAP.MAYMOVE });
      expect(moved).not.toBe(ctx.dst.addr);
      await Bun.sleep(20);
      await ctx.stopHandlers();
      expect(h.counters.total("remove")).toBe(1);
      expect(h.counters.total("remap")).toBe(1);
      munmap(moved, half + ctx.pageSize);
    } finally {
      await ctx.dispose();
    }
  },
);

test("a handler error ends the test with a failure naming it, not a hang", async () => {
  const ctx = UffdTestContext.create(MEMORY.anon, { size: 1024 * 1024 });
  try {
    ctx.register({ missing: true });
    await ctx.startHandlers({ forbidWriteMissing: true });
    const t0 = performance.now();
    const write = ctx.touch({ start: ctx.dst.addr, pages: 1, pageSize: ctx.pageSize, op: "write", value: 1 });
    await expect(write).rejects.toThrow(/unexpected write fault/);
    expect(performance.now() - t0).toBeLessThan(10_000);
    await expect(ctx.stopHandlers()).rejects.toThrow(/unexpected write fault/);
  } finally {
    await ctx.dispose();
  }
});

test("a disposed context leaves no fds, mappings or threads behind", async () => {
  await workerPool().warm("handler", 2);
  await workerPool().warm("toucher", 1);
  const maps = () => readFileSync("/proc/self/maps", "utf8").split("\n").length;
  const before = { fds: fds(), threads: threads(), maps: maps() };
  for (let i = 0; i < 3; i++) {
    const ctx = UffdTestContext.create(MEMORY.shmem, { size: 1024 * 1024 });
    ctx.register({ missing: true });
    await ctx.startHandlers({ count: 2, mode: i % 2 ? "read" : "poll" });
    await ctx.verifyDst();
    await ctx.dispose();
  }
  expect(fds()).toEqual(before.fds);
  expect(threads()).toBe(before.threads);
  expect(maps()).toBe(before.maps);
});

test("nr_hugepages is restored after a test that throws", () => {
  const before = readFileSync("/proc/sys/vm/nr_hugepages", "utf8").trim();
  const want = hugepageState().free + 4;
  expect(() => {
    using _r = reserveHugepages(want);
    expect(hugepageState().free).toBeGreaterThanOrEqual(want);
    throw new Error("planted failure");
  }).toThrow("planted failure");
  expect(readFileSync("/proc/sys/vm/nr_hugepages", "utf8").trim()).toBe(before);
});

test("stats line matches the C format without the backspace", () => {
  const c = new HandlerCounters(2);
  c.add(0, "missing", 3925);
  c.add(1, "missing", 2169);
  expect(statsLine(c)).toBe("userfaults: 6094 missing (3925+2169)");
  c.add(1, "minor", 2);
  expect(statsLine(c)).toBe("userfaults: 6094 missing (3925+2169) 2 minor (0+2)");
});
