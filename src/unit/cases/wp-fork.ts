// wp-fork, wp-fork-with-event, wp-fork-pin, wp-fork-pin-with-event: the
// uffd-wp bit (pagemap bit 57) of a write-protected page across fork(). A
// child without EVENT_FORK must not inherit it; with EVENT_FORK it must. The
// bit must survive a zap of the page, and unprotecting must clear it. The pin
// variants take a long-term pin through debugfs gup_test first (early CoW at
// fork) and in the child (unsharing on pin).
import type { UffdTestContext } from "../../harness/context.ts";
import { Errno, errnoName } from "../../sys/errno.ts";
import { GUP_TEST_PATH, LongtermPin, PIN_LONGTERM_TEST } from "../../sys/gup.ts";
import { MADV, madvise, tryMadvise } from "../../sys/mem.ts";
import { childPagemap, describeStatus } from "../../sys/native.ts";
import { forkedExitMeaning, runPinPagemapChild } from "../../sys/native/forked.ts";
import { decodePagemap, Pagemap } from "../../sys/native/pagemap.ts";
import type { FeatureName } from "../../uffd/constants.ts";
import { ALL_MEMORY, type CaseRun, type KnownKernelBug, type UnitCase } from "../case.ts";
import { caseLimitMs } from "../../harness/limits.ts";

const WP: readonly FeatureName[] = ["PAGEFAULT_FLAG_WP", "WP_HUGETLBFS_SHMEM"];
const CHILD_MS = 10_000;

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** The parent's uffd-wp bit of `addr` must be `want`. */
function checkWp(t: CaseRun, pm: Pagemap, addr: number, want: boolean, when: string): void {
  const entry = pm.entry(addr);
  t.check(decodePagemap(entry).uffdWp === want, `pagemap uffd-wp bit ${when}`, {
    expected: want ? "set" : "clear",
    seen: `${decodePagemap(entry).uffdWp ? "set" : "clear"} (entry ${hex(entry)})`,
  });
}

/**
 * The C suite's pagemap_test_fork: fork a child that reads its own pagemap
 * entry of the first destination page (pinning it first with `pinInChild`),
 * and check the child's uffd-wp bit: kept with the fork event, dropped
 * without. With the event a handler reads it (fork blocks until someone
 * does) and keeps the child's uffd open until the child is gone.
 */
async function forkAndCheck(
  t: CaseRun,
  ctx: UffdTestContext,
  opts: { withEvent: boolean; pinInChild: boolean; what: string },
): Promise<void> {
  const addr = ctx.dst.addr;
  const handlers = opts.withEvent ? await ctx.startHandlers({ onFork: "follow" }) : undefined;
  let entry: bigint;
  try {
    if (opts.pinInChild) {
      const r = await runPinPagemapChild(
        { addr, len: ctx.pageSize, ioctls: { start: PIN_LONGTERM_TEST.START, stop: PIN_LONGTERM_TEST.STOP } },
        { timeoutMs: caseLimitMs(CHILD_MS) },
      );
      if (r.status.kind !== "exited" || r.status.code !== 0 || r.entry === undefined) {
        const why = r.status.kind === "exited" ? forkedExitMeaning(r.status.code) : describeStatus(r.status);
        throw new Error(`pinning child (${opts.what}): ${why}${r.errno ? ` (${errnoName(r.errno)})` : ""}`);
      }
      entry = r.entry;
    } else {
      entry = await childPagemap(addr, { timeoutMs: caseLimitMs(CHILD_MS) });
    }
  } finally {
    if (handlers) await ctx.stopHandlers();
  }
  if (handlers) t.equal(`fork events read (the child's uffd received), ${opts.what}`, handlers.counters.total("fork"), 1);
  const kept = decodePagemap(entry).uffdWp;
  t.check(kept === opts.withEvent, `child's uffd-wp bit ${opts.what} (${opts.withEvent ? "with" : "without"} EVENT_FORK)`, {
    expected: opts.withEvent ? "set (inherited)" : "clear (dropped)",
    seen: `${kept ? "set" : "clear"} (entry ${hex(entry)})`,
  });
}

/** Write one byte into the first destination page from a toucher Worker. */
async function writeFirstPage(ctx: UffdTestContext, value: number): Promise<void> {
  await ctx.touch({ start: ctx.dst.addr, pages: 1, pageSize: ctx.pageSize, op: "write", value }, { timeoutMs: caseLimitMs(CHILD_MS) });
}

async function wpFork(t: CaseRun, withEvent: boolean): Promise<void> {
  const mem = t.mem!;
  const ctx = t.context();
  const page = { start: ctx.dst.addr, len: ctx.pageSize };
  ctx.register({ wp: true });
  t.defer(() => ctx.unregister());
  const pm = new Pagemap();
  t.defer(() => pm.close());

  await writeFirstPage(ctx, 1);
  if (!t.planted.plant.has("pagemap-wp")) ctx.uffd.writeProtect(page, { wp: true });
  checkWp(t, pm, page.start, true, "after UFFDIO_WRITEPROTECT");
  await forkAndCheck(t, ctx, { withEvent, pinInChild: false, what: "in a present pte" });

  // Zap the page table entry to test the markers. Shared mappings: DONTNEED
  // (PAGEOUT may not work there). Private ones: PAGEOUT, whose failure is
  // ignored as the C does (private hugetlb cannot be swapped).
  if (mem.shared) madvise(page.start, page.len, MADV.DONTNEED);
  else {
    const err = tryMadvise(page.start, page.len, MADV.PAGEOUT);
    if (err) t.note(`MADV_PAGEOUT: ${errnoName(err)} (ignored, as in the C)`);
  }
  checkWp(t, pm, page.start, true, `after ${mem.shared ? "MADV_DONTNEED" : "MADV_PAGEOUT"}`);
  await forkAndCheck(t, ctx, { withEvent, pinInChild: false, what: "in a zapped pte" });

  ctx.uffd.writeProtect(page, { wp: false });
  checkWp(t, pm, page.start, false, "after unprotect");
  await writeFirstPage(ctx, 2);
  checkWp(t, pm, page.start, false, "after the page was written again");
}

async function wpForkPin(t: CaseRun, withEvent: boolean): Promise<void> {
  const ctx = t.context();
  const page = { start: ctx.dst.addr, len: ctx.pageSize };
  ctx.uffd.register(page, { wp: true });
  t.defer(() => ctx.uffd.unregister(page));

  await writeFirstPage(ctx, 1);
  if (!t.planted.plant.has("pagemap-wp")) ctx.uffd.writeProtect(page, { wp: true });

  // 1. Pin, then fork: fork() copies a pinned private page at once (early CoW).
  const pin = LongtermPin.pin(page.start, page.len);
  if (typeof pin === "number") {
    const err = -pin;
    t.note(`${GUP_TEST_PATH}: ${errnoName(err)}`);
    // ENOENT: no gup_test (CONFIG_GUP_TEST off, or debugfs not mounted);
    // EACCES/EPERM: debugfs closed to us. Any other errno is a failure.
    if (err === Errno.ENOENT) t.skip("CONFIG_GUP_TEST missing");
    if (err === Errno.EACCES || err === Errno.EPERM) t.skip(`${GUP_TEST_PATH} not permitted (${errnoName(err)})`);
    t.check(false, "gup_test long-term pin (PIN_LONGTERM_TEST_START)", { expected: "succeeds", seen: `fails with ${errnoName(err)}` });
    return;
  }
  try {
    await forkAndCheck(t, ctx, { withEvent, pinInChild: false, what: "in the early CoW of fork()" });
  } finally {
    pin.unpin();
  }
  // 2. Fork, then pin in the child: a read-only pin unshares the page there.
  await forkAndCheck(t, ctx, { withEvent, pinInChild: true, what: "after a read-only pin in the child" });
}

// Without EVENT_FORK the child must not inherit the uffd-wp bit of a present
// hugetlb pte in a private mapping; kernels before this fix copy it over
// (the C suite: "Detected stall uffd-wp bit in child in present pte").
const HUGETLB_FORK_FIX: KnownKernelBug = {
  memory: ["hugetlb-private"],
  check: "uffd-wp bit in a present pte",
  commit: "5a2f8d22ace4",
  subject: "mm/hugetlb: fix uffd-wp during fork()",
  release: "v6.4",
  seenOn: "Debian 6.1.0-57 (6.1.192) x86_64",
};

function row(name: string, withEvent: boolean, pin: boolean): UnitCase {
  const run = pin ? wpForkPin : wpFork;
  return {
    name,
    ...(name === "wp-fork" ? { knownBugs: [HUGETLB_FORK_FIX] } : {}),
    description: `uffd-wp bit across fork()${pin ? " of a long-term pinned page" : ""}, ${withEvent ? "inherited with" : "dropped without"} EVENT_FORK`,
    memory: ALL_MEMORY,
    features: withEvent ? [...WP, "EVENT_FORK"] : WP,
    origin: "kernel",
    run: (t) => run(t, withEvent),
  };
}

export const wpForkCases: readonly UnitCase[] = [
  row("wp-fork", false, false),
  row("wp-fork-with-event", true, false),
  row("wp-fork-pin", false, true),
  row("wp-fork-pin-with-event", true, true),
];
