// Every source page is unique (source.ts: page number and a per-run seed), so
// a fault resolved with another page's contents is caught where contents are
// checked: the harness compare and the events child (on every memory type:
// oracles-wrong-page.test.ts; the stress verify pass: stress.test.ts). No
// huge pages here: this file is what `npm run mutate` runs for serve.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { UffdTestContext } from "../src/harness/context.ts";
import { MEMORY } from "../src/harness/memory.ts";
import { workerPool } from "../src/harness/pool.ts";
import { COUNT_OFFSET, initSourcePages, MUTEX_SIZE, RUN_SEED, TAG_OFFSET, wrongPage } from "../src/harness/source.ts";
import { PTHREAD_MUTEX_SIZE } from "../src/sys/arch.ts";
import { describeMismatch } from "../src/harness/touch.ts";
import { bytesAt, mmap, munmap, toArrayBufferAt } from "../src/sys/mem.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";
import { eventsCases } from "../src/unit/cases/events.ts";
import { describeResult, loadTimeSkip, runOne } from "./support/case-run.ts";
import { WRONG_PAGE_IN_EVENTS } from "./support/oracles.ts";

const kernel = probeFeatures();
afterAll(() => workerPool().shutdown());

describe("page tags", () => {
  test("a page holding its own tag is right; another's is named", () => {
    expect(wrongPage(5, 5, 0x1234, 0x1234)).toBeUndefined();
    expect(wrongPage(5, 6, 0x1234, 0x1234)).toBe("page 5 holds page 6's data");
    expect(wrongPage(5, 0, 0, 0x1234)).toBe("page 5 holds no source page's data (tag 0x0000000000000000, expected 0x0000123400000005)");
    expect(wrongPage(5, 5, 0x99, 0x1234)).toMatch(/^page 5 holds no source page's data \(tag 0x0000009900000005/);
  });

  test("every source page carries its number and the run's seed", () => {
    const ctx = UffdTestContext.create(MEMORY.anon, { size: 8 * 4096 });
    try {
      expect(RUN_SEED).not.toBe(0);
      for (let p = 0; p < ctx.pages; p++) {
        const tag = new Uint32Array(toArrayBufferAt(ctx.src.addr + p * ctx.pageSize + TAG_OFFSET, 8));
        expect([...tag]).toEqual([p, RUN_SEED]);
      }
    } finally {
      ctx.dispose();
    }
  });

  test("the C's layout, written over whatever the pages held", () => {
    const ps = 4096;
    const at = mmap(3 * ps);
    try {
      bytesAt(at, 3 * ps).fill(0xff);
      const verify = initSourcePages(at, 3, ps);
      expect([...verify]).toEqual([1, 1, 1]);
      expect(MUTEX_SIZE).toBe(PTHREAD_MUTEX_SIZE[process.arch]!);
      expect(COUNT_OFFSET % 8).toBe(0);
      for (let p = 0; p < 3; p++) {
        const w = new Uint32Array(toArrayBufferAt(at + p * ps, ps));
        // Mutex zero (unlocked), counter 1, the non-zero word 1, the tag; the rest as it was.
        expect([...w.subarray(0, COUNT_OFFSET >>> 2)].every((x) => x === 0)).toBe(true);
        expect([...w.subarray(COUNT_OFFSET >>> 2, (TAG_OFFSET + 8) >>> 2)]).toEqual([1, 0, 1, 0, p, RUN_SEED]);
        expect(w[(TAG_OFFSET + 8) >>> 2]).toBe(0xffffffff);
      }
    } finally {
      munmap(at, 3 * ps);
    }
  });

  test("describeMismatch: the wrong page by its tag, or the first differing word", () => {
    expect(describeMismatch({ touched: 1, mismatches: 0 })).toBe("0 words differ");
    expect(describeMismatch({ touched: 1, mismatches: 3, firstMismatch: { page: 2, offset: 8, got: 1, want: 0xff } })).toBe(
      "3 words differ, first in page 2 at offset 8: 0x1 instead of 0xff",
    );
    expect(
      describeMismatch({
        touched: 1,
        mismatches: 1,
        firstMismatch: { page: 2, offset: 56, got: 3, want: 2, wrongPage: "page 2 holds page 3's data" },
      }),
    ).toBe("1 words differ: page 2 holds page 3's data");
  });
});

describe("a handler that resolves faults with the next page's contents", () => {
  for (const mem of ["anon", "shmem"] as const) {
    test(`the harness compare on ${mem} names the page it holds`, async () => {
      const ctx = UffdTestContext.create(MEMORY[mem], { size: 16 * 4096, wrongPage: true });
      try {
        ctx.register({ missing: true });
        await ctx.startHandlers();
        const r = await ctx.verifyDst();
        expect(r.mismatches).toBeGreaterThan(0);
        expect(r.firstMismatch?.wrongPage).toBe("page 0 holds page 1's data");
        expect(describeMismatch(r)).toMatch(/^\d+ words differ: page 0 holds page 1's data$/);
      } finally {
        await ctx.dispose();
      }
    });
  }

  const events = eventsCases.find((c) => c.name === "events")!;
  // anon and shmem need no huge pages; every memory type: oracles-wrong-page.test.ts.
  for (const mem of ["anon", "shmem"] as const) {
    const skip = loadTimeSkip(events, mem, kernel);
    test.skipIf(skip !== undefined)(
      `fails events on ${mem}${skip ? ` (${skip})` : ""}`,
      async () => {
        const r = await runOne(events, mem, { kernel, plant: ["wrong-page"] });
        if (r.status !== "fail") throw new Error(`expected a failure\n${describeResult(mem, r)}`);
        expect(r.diagnostics.join("\n")).toMatch(WRONG_PAGE_IN_EVENTS);
      },
      60_000,
    );
  }
});

const eventsWp = eventsCases.find((x) => x.name === "events-wp")!;
// A missing feature skips it when the file loads; at run time it must fail as planted, never skip.
const eventsWpSkip = loadTimeSkip(eventsWp, "anon", kernel);
test.skipIf(eventsWpSkip !== undefined)(
  `events-wp: copies left writable fail the wp count alone${eventsWpSkip ? ` (${eventsWpSkip})` : ""}`,
  async () => {
    const r = await runOne(eventsWp, "anon", { kernel, plant: ["wp-count"] });
    if (r.status !== "fail") throw new Error(`expected a failure\n${describeResult("anon", r)}`);
    expect(r.diagnostics.at(-1)).toMatch(/^write-protect faults \(one per page\): expected \d+, seen 0$/);
  },
  60_000,
);
