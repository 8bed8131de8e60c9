// The in-process SIGBUS routines (src/sys/native/faults.c) on their own, from
// a pooled Worker, on a small anon range registered with UFFD_FEATURE_SIGBUS
// and no handler: what they report when a page holds the wrong data, when a
// resolving ioctl fails in the signal path, and which pages raised SIGBUS.
import { afterEach, expect, test } from "bun:test";
import { UffdTestContext } from "../src/harness/context.ts";
import { MEMORY, pageSizeOf } from "../src/harness/memory.ts";
import { runFaultJob } from "../src/harness/native-fault.ts";
import { COUNT_OFFSET, RUN_SEED, TAG_OFFSET } from "../src/harness/source.ts";
import { bytesAt } from "../src/sys/mem.ts";
import type { SigbusResolveArgs } from "../src/sys/native/faults.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";
import { IOCTL } from "../src/uffd/structs.ts";
import { caseRunFile } from "./support/case-run.ts";

const kernel = probeFeatures();
const noSigbus = !kernel.has("SIGBUS") ? "feature missing: SIGBUS" : undefined;
caseRunFile(0);

const PAGES = 6;
const PS = pageSizeOf(MEMORY.anon);
let ctx: UffdTestContext | undefined;
afterEach(() => {
  ctx?.dispose();
  ctx = undefined;
});

/** A registered range whose first touch raises SIGBUS (no handler runs). */
function sigbusContext(wp = false): UffdTestContext {
  ctx = UffdTestContext.create(MEMORY.anon, { features: wp ? ["SIGBUS", "PAGEFAULT_FLAG_WP"] : ["SIGBUS"], size: PAGES * PS });
  ctx.register({ missing: true, wp });
  return ctx;
}

function resolveArgs(c: UffdTestContext, over: Partial<SigbusResolveArgs> = {}): SigbusResolveArgs {
  return {
    uffd: c.uffd.fd,
    dst: c.dst.addr,
    src: c.src.addr,
    pages: 3,
    pageSize: PS,
    countOffset: COUNT_OFFSET,
    expected: c.countVerify,
    wp: false,
    ioctls: { copy: IOCTL.COPY, wake: IOCTL.WAKE, writeProtect: IOCTL.WRITEPROTECT },
    tag: { offset: TAG_OFFSET, seed: RUN_SEED },
    ...over,
  };
}

const tag = (page: number) => (BigInt(RUN_SEED) << 32n) | BigInt(page);

test.skipIf(noSigbus !== undefined)(`sigbus resolve: every page copied in and checked${noSigbus ? ` (${noSigbus})` : ""}`, async () => {
  const c = sigbusContext();
  const r = await runFaultJob(c, "sigbus-resolve", resolveArgs(c));
  expect(r).toEqual({ copied: 3, sigbus: 3, verdict: "ok" });
});

test.skipIf(noSigbus !== undefined)(
  `sigbus resolve: a copy of the next page stops at page 0 with both tags${noSigbus ? ` (${noSigbus})` : ""}`,
  async () => {
    const c = sigbusContext();
    const r = await runFaultJob(c, "sigbus-resolve", resolveArgs(c, { sourceShift: 1 }));
    expect(r).toEqual({ copied: 1, sigbus: 1, verdict: "wrong-page", page: 0, seen: tag(1), expected: tag(0) });
  },
);

test.skipIf(noSigbus !== undefined)(`sigbus resolve: a tag from another run is no page's${noSigbus ? ` (${noSigbus})` : ""}`, async () => {
  const c = sigbusContext();
  const other = (RUN_SEED ^ 0x100) >>> 0;
  const r = await runFaultJob(c, "sigbus-resolve", resolveArgs(c, { tag: { offset: TAG_OFFSET, seed: other } }));
  expect(r).toMatchObject({ verdict: "wrong-page", page: 0, seen: tag(0), expected: (BigInt(other) << 32n) | 0n });
  // Seed 0: no tag check.
  const c2 = sigbusContext();
  expect(await runFaultJob(c2, "sigbus-resolve", resolveArgs(c2, { tag: { offset: TAG_OFFSET, seed: 0 } }))).toEqual({
    copied: 3,
    sigbus: 3,
    verdict: "ok",
  });
});

test.skipIf(noSigbus !== undefined)(`sigbus resolve: no tag given, none checked${noSigbus ? ` (${noSigbus})` : ""}`, async () => {
  const c = sigbusContext();
  const { tag: _, ...untagged } = resolveArgs(c);
  // The source's tags are wrong for every page: not read.
  expect(await runFaultJob(c, "sigbus-resolve", { ...untagged, sourceShift: 1 })).toEqual({ copied: 3, sigbus: 3, verdict: "ok" });
});

test.skipIf(noSigbus !== undefined)(
  `sigbus resolve: a counter that differs stops at its page${noSigbus ? ` (${noSigbus})` : ""}`,
  async () => {
    const c = sigbusContext();
    const expected = Float64Array.from(c.countVerify);
    expected[2] = 5;
    const r = await runFaultJob(c, "sigbus-resolve", resolveArgs(c, { expected }));
    expect(r).toEqual({ copied: 3, sigbus: 3, verdict: "corrupt", page: 2, seen: 1n, expected: 5n });
  },
);

test.skipIf(noSigbus !== undefined)(
  `sigbus resolve: a failing UFFDIO_COPY in the signal path is an error naming the page${noSigbus ? ` (${noSigbus})` : ""}`,
  async () => {
    const c = sigbusContext();
    const r = await runFaultJob(
      c,
      "sigbus-resolve",
      resolveArgs(c, { ioctls: { copy: IOCTL.WAKE + 0x7f00, wake: IOCTL.WAKE, writeProtect: IOCTL.WRITEPROTECT } }),
    );
    expect(r).toEqual({ copied: 0, sigbus: 1, verdict: "ok", page: 0, error: "UFFDIO_COPY failed in the signal path at page 0" });
  },
);

test.skipIf(noSigbus !== undefined)(
  `sigbus resolve: a COPY refused by the kernel names its result${noSigbus ? ` (${noSigbus})` : ""}`,
  async () => {
    const c = sigbusContext();
    // A source nothing is mapped at: the kernel's copy from it fails with EFAULT.
    const r = await runFaultJob(c, "sigbus-resolve", resolveArgs(c, { src: PS }));
    expect(r).toEqual({
      copied: 0,
      sigbus: 1,
      verdict: "ok",
      page: 0,
      error: "UFFDIO_COPY failed in the signal path at page 0 (result -14)",
    });
  },
);

const noWp = noSigbus ?? (!kernel.has("PAGEFAULT_FLAG_WP") ? "feature missing: PAGEFAULT_FLAG_WP" : undefined);
test.skipIf(noWp !== undefined)(
  `sigbus resolve, wp: one missing and one write-protect SIGBUS per page; a failing unprotect is an error${noWp ? ` (${noWp})` : ""}`,
  async () => {
    const c = sigbusContext(true);
    expect(await runFaultJob(c, "sigbus-resolve", resolveArgs(c, { wp: true }))).toEqual({ copied: 3, sigbus: 6, verdict: "ok" });
    const d = sigbusContext(true);
    const r = await runFaultJob(
      d,
      "sigbus-resolve",
      resolveArgs(d, { wp: true, ioctls: { copy: IOCTL.COPY, wake: IOCTL.WAKE, writeProtect: IOCTL.WAKE + 0x7f00 } }),
    );
    expect(r).toEqual({
      copied: 1,
      sigbus: 2,
      verdict: "ok",
      page: 0,
      error: "UFFDIO_WRITEPROTECT (unprotect) failed in the signal path at page 0",
    });
  },
);

test.skipIf(noWp !== undefined)(
  `sigbus resolve, wp: a page still write-protected after its "unprotect" is given up on${noWp ? ` (${noWp})` : ""}`,
  async () => {
    const c = sigbusContext(true);
    // UFFDIO_WAKE in place of the unprotect: it succeeds and leaves the page protected, so each retried write signals again.
    const r = await runFaultJob(
      c,
      "sigbus-resolve",
      resolveArgs(c, { wp: true, ioctls: { copy: IOCTL.COPY, wake: IOCTL.WAKE, writeProtect: IOCTL.WAKE } }),
    );
    expect(r).toEqual({
      copied: 1,
      sigbus: 9,
      verdict: "ok",
      page: 0,
      error: "a page kept raising SIGBUS after it was resolved at page 0",
    });
  },
);

test.skipIf(noSigbus !== undefined)(
  `poison scan: pages still missing raise SIGBUS; the first non-zero byte of the others is named${noSigbus ? ` (${noSigbus})` : ""}`,
  async () => {
    const c = sigbusContext();
    // Pages 1 and 4 copied in (from a zeroed source, page 4 with one byte set): the rest raise SIGBUS.
    const src = bytesAt(c.src.addr, PAGES * PS);
    src.fill(0);
    src[4 * PS + 9] = 7;
    c.uffd.copy(c.dst.addr + PS, c.src.addr + PS, PS);
    c.uffd.copy(c.dst.addr + 4 * PS, c.src.addr + 4 * PS, PS);
    const r = await runFaultJob(c, "poison-scan", { dst: c.dst.addr, pages: PAGES, pageSize: PS });
    expect(r).toEqual({ sigbus: 4, nonZero: 1, firstNonZero: { page: 4, offset: 9, value: 7 }, signalled: [0, 2, 3, 5] });
  },
);

test.skipIf(noSigbus !== undefined)(`poison scan: zero pages only, no first non-zero byte${noSigbus ? ` (${noSigbus})` : ""}`, async () => {
  const c = sigbusContext();
  bytesAt(c.src.addr, PAGES * PS).fill(0);
  c.uffd.copy(c.dst.addr + 2 * PS, c.src.addr, PS);
  const r = await runFaultJob(c, "poison-scan", { dst: c.dst.addr, pages: PAGES, pageSize: PS });
  expect(r).toEqual({ sigbus: 5, nonZero: 0, signalled: [0, 1, 3, 4, 5] });
});
