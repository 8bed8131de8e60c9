// move, move-pmd, move-pmd-split (anon): missing faults resolved by
// UFFDIO_MOVE with ALLOW_SRC_HOLES, a page at a time or a PMD-sized chunk at
// a time (into a THP destination, or into one with THP off so the huge page
// must be split). The destination must read what the source held (each
// page's counter as the source layout set it), the source must be empty
// afterwards, and there must be one missing fault per chunk and no others.
import { describeMismatch } from "../../harness/touch.ts";
import type { UffdTestContext } from "../../harness/context.ts";
import { pmdSize } from "../../harness/memory.ts";
import { COUNT_OFFSET, initSourcePages } from "../../harness/source.ts";
import { bytesAt, MADV, madvise, Scratch, toArrayBufferAt } from "../../sys/mem.ts";
import type { CaseRun, UnitCase } from "../case.ts";

interface MoveVariant {
  readonly name: string;
  readonly description: string;
  /** Bytes per UFFDIO_MOVE: "page" or "pmd". */
  readonly chunk: "page" | "pmd";
  /** THP advice for the source before it is filled, and for the destination. */
  readonly srcAdvice: number;
  readonly dstAdvice?: number;
}

/**
 * The counter of every destination page must be the one the source layout
 * gave that page (ctx.countVerify). The toucher's byte comparison is against
 * a copy of the source, so it alone would also pass were the source never
 * filled. Call only after the toucher read every page back (all present).
 */
function checkDestinationCounters(t: CaseRun, ctx: UffdTestContext): void {
  const view = new DataView(toArrayBufferAt(ctx.dst.addr, ctx.size));
  // Planted (tests only): expect another counter in page 1.
  const expected = (p: number) => ctx.countVerify[p]! + (p === 1 && t.planted.plant.has("counter") ? 1 : 0);
  for (let p = 0; p < ctx.pages; p++) {
    const count = Number(view.getBigUint64(p * ctx.pageSize + COUNT_OFFSET, true));
    t.check(count === expected(p), `destination counter of page ${p} after UFFDIO_MOVE`, { expected: expected(p), seen: count });
  }
}

/** Index of the first non-zero 32-bit word in the source, or -1. */
function firstNonZero(ctx: UffdTestContext): number {
  const words = new Uint32Array(toArrayBufferAt(ctx.src.addr, ctx.size));
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return i;
  return -1;
}

async function moveTest(t: CaseRun, v: MoveVariant): Promise<void> {
  const chunk = v.chunk === "pmd" ? pmdSize() : undefined;
  const ctx = t.context({ initSource: false });
  const ps = ctx.pageSize;
  const len = chunk ?? ps;
  // THP advice must come before the source is filled; the source must not be shared with children.
  madvise(ctx.src.addr, ctx.size, v.srcAdvice);
  madvise(ctx.src.addr, ctx.size, MADV.DONTFORK);
  if (v.dstAdvice !== undefined) madvise(ctx.dst.addr, ctx.size, v.dstAdvice);
  ctx.countVerify = initSourcePages(ctx.src.addr, ctx.pages, ps);

  // What the destination must read after the moves: a private copy of the source.
  const want = new Scratch(ctx.size);
  t.defer(() => want.dispose());
  want.bytes.set(bytesAt(ctx.src.addr, ctx.size));
  if (t.planted.plant.has("content")) want.bytes[ps + COUNT_OFFSET] = want.bytes[ps + COUNT_OFFSET]! ^ 0x40;

  ctx.register({ missing: true });
  const h = await ctx.startHandlers({ strategy: "move", moveChunk: len, forbidWriteMissing: true });
  const r = await ctx.touch({ start: ctx.dst.addr, pages: ctx.pages, pageSize: ps, op: "read", compareWith: want.addr });
  await ctx.stopHandlers();

  t.check(r.mismatches === 0, "destination after UFFDIO_MOVE", {
    expected: "the source's bytes",
    seen: describeMismatch(r),
  });
  checkDestinationCounters(t, ctx);
  const left = firstNonZero(ctx);
  t.check(left < 0, "source after UFFDIO_MOVE", {
    expected: "empty (all zero)",
    seen: `non-zero word in page ${Math.floor((left * 4) / ps)} at offset ${(left * 4) % ps}`,
  });
  const chunks = ctx.size / len + (t.planted.plant.has("fault-count") ? 1 : 0);
  t.equal(`missing faults (one per ${len / 1024} KiB chunk)`, h.counters.total("missing"), chunks);
  // Planted (tests only), one per count: that count's check expects one.
  t.equal("minor faults", h.counters.total("minor"), t.planted.plant.has("minor-count") ? 1 : 0);
  t.equal("wp faults", h.counters.total("wp"), t.planted.plant.has("wp-count") ? 1 : 0);
}

const variants: readonly MoveVariant[] = [
  {
    name: "move",
    description: "missing faults resolved by UFFDIO_MOVE of one page (THP off); source empty after, one fault per page",
    chunk: "page",
    srcAdvice: MADV.NOHUGEPAGE,
  },
  {
    name: "move-pmd",
    description: "missing faults resolved by UFFDIO_MOVE of a PMD-sized chunk between THP areas; one fault per chunk",
    chunk: "pmd",
    srcAdvice: MADV.HUGEPAGE,
    dstAdvice: MADV.HUGEPAGE,
  },
  {
    name: "move-pmd-split",
    description: "UFFDIO_MOVE of PMD-sized chunks from a THP source into a destination with THP off (huge pages split)",
    chunk: "pmd",
    srcAdvice: MADV.HUGEPAGE,
    dstAdvice: MADV.NOHUGEPAGE,
  },
];

export const moveCases: readonly UnitCase[] = variants.map((v) => ({
  name: v.name,
  description: v.description,
  memory: ["anon"],
  features: ["MOVE"],
  ...(v.chunk === "pmd" ? { thp: true as const } : {}),
  origin: "kernel",
  run: (t: CaseRun) => moveTest(t, v),
}));
