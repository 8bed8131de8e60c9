// The random sequences: weighted operations over small page ranges, drawn
// by fast-check (which also shrinks a failing sequence to a shortest one).
import fc from "fast-check";
import { MODE_BITS, type Op, type OpName, SEQ_FEATURES, type Sequence, type SeqFeature } from "./ops.ts";
import type { Target } from "./session.ts";

/** Default weights: touches and the calls that change entries most often. */
export const WEIGHTS: Readonly<Record<OpName, number>> = {
  reg: 160,
  unreg: 48,
  copy: 128,
  zero: 48,
  cont: 64,
  poison: 32,
  move: 48,
  wp: 128,
  touch: 384,
  alias: 64,
  madv: 80,
  mremap: 32,
  munmap: 32,
  pagemap: 96,
  fork: 1,
  scan: 24,
};

/** The operations this memory type and kernel can take at all. */
export function possibleOps(t: Target): OpName[] {
  const k = t.kernel;
  const names = Object.keys(WEIGHTS) as OpName[];
  return names.filter((n) => {
    if (n === "move") return t.mem.offers.move && k.has("MOVE");
    if (n === "poison") return k.has("POISON") && !t.noNative;
    if (n === "fork") return !t.noNative;
    if (n === "alias") return t.mem.hasAlias;
    if (n === "cont") return t.refusedModes[MODE_BITS.minor] === undefined;
    if (n === "scan") return t.pagemapScan;
    return true;
  });
}

function rangeArb(pages: number): fc.Arbitrary<{ a: number; b: number }> {
  return fc
    .integer({ min: 0, max: pages - 1 })
    .chain((a) =>
      fc
        .oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: pages - a }) })
        .map((n) => ({ a, b: a + n })),
    );
}

export function opArb(t: Target, only: readonly OpName[]): fc.Arbitrary<Op> {
  const P = t.pages;
  const r = rangeArb(P);
  const b = fc.boolean();
  const page = fc.integer({ min: 0, max: P - 1 });
  // The whole area half the time, so registrations often cover it (mremap moves it whole).
  const regRange = fc.oneof(fc.constant({ a: 0, b: P }), r);
  const arbs: Record<OpName, fc.Arbitrary<Op>> = {
    reg: fc.tuple(regRange, fc.integer({ min: 1, max: 7 })).map(([x, m]) => ({ o: "reg", ...x, m })),
    unreg: r.map((x) => ({ o: "unreg", ...x })),
    copy: fc.tuple(r, b, b).map(([x, dw, wp]) => ({ o: "copy", ...x, dw, wp })),
    zero: fc.tuple(r, b).map(([x, dw]) => ({ o: "zero", ...x, dw })),
    cont: fc.tuple(r, b, b).map(([x, dw, wp]) => ({ o: "cont", ...x, dw, wp: wp && t.continueWp })),
    poison: fc.tuple(r, b).map(([x, dw]) => ({ o: "poison", ...x, dw })),
    move: fc.tuple(r, b).map(([x, dw]) => ({ o: "move", ...x, dw })),
    wp: fc
      .tuple(regRange, b, fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }))
      .map(([x, on, dw]) => ({ o: "wp", ...x, on, dw })),
    touch: fc
      .tuple(page, b, fc.constantFrom("copy", "copy-wp", "zero"), b)
      .map(([p, w, res, dw]) => ({ o: "touch", p, w, res: !t.mem.offers.zeropage && res === "zero" ? "copy" : res, dw }) as Op),
    alias: page.map((p) => ({ o: "alias", p })),
    madv: fc.tuple(r, fc.boolean()).map(([x, rm]) => ({ o: "madv", ...x, rm: rm && t.mem.fileBacked })),
    mremap: fc.constant({ o: "mremap" }),
    munmap: r.map((x) => ({ o: "munmap", ...x })),
    pagemap: page.map((p) => ({ o: "pagemap", p })),
    fork: page.map((p) => ({ o: "fork", p })),
    scan: fc.constant({ o: "scan" }),
  };
  const names = possibleOps(t).filter((n) => only.includes(n));
  return fc.oneof(...names.map((n) => ({ weight: WEIGHTS[n], arbitrary: arbs[n] })));
}

export function sequenceArb(t: Target, only: readonly OpName[], maxOps = 40): fc.Arbitrary<Sequence> {
  const features = SEQ_FEATURES.filter((f) => t.kernel.has(f)) as SeqFeature[];
  return fc.record({
    features: fc.subarray(features),
    ops: fc.array(opArb(t, only), { minLength: 1, maxLength: maxOps, size: "max" }),
  });
}
