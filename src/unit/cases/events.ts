// events, events-wp: the non-cooperative events. A forked child (EVENT_FORK:
// the handler switches to the child's uffd) reads the first half of the
// destination (missing faults, served from the parent's source), moves the
// destination onto the source's address with mremap (EVENT_REMAP: the
// handler moves its idea of the destination), reads the second half there,
// releases everything (EVENT_REMOVE: the handler unregisters the range) and
// finds only zeros. Every page must have been one missing fault. With -wp the
// copies are write-protected and writing each counter back is a wp fault.
// Kernels before hugetlb mremap (Linux 5.16) refuse the move with EINVAL, and
// before MADV_DONTNEED on hugetlb (5.18) the private release: there the C suite
// of the time left those steps out for hugetlb, and so do we (with a note).
import type { UffdTestContext } from "../../harness/context.ts";
import { COUNT_OFFSET, RUN_SEED, TAG_OFFSET, tagText } from "../../harness/source.ts";
import { Errno, errnoName } from "../../sys/errno.ts";
import { type MemoryType, releaseAdvice } from "../../harness/memory.ts";
import { describeStatus } from "../../sys/native.ts";
import { CHILD_EXIT } from "../../sys/native/child.ts";
import { type EventsChildArgs, type EventsChildResult, FORKED_EXIT, forkedExitMeaning, runEventsChild } from "../../sys/native/forked.ts";
import type { FeatureName } from "../../uffd/constants.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { caseLimitMs } from "../../harness/limits.ts";
import type { CounterName } from "../../harness/counters.ts";
import { planted } from "./beyond-kit.ts";

// Below the runner's default case limit (60 s), so a stuck child is reported with its stage.
const CHILD_MS = 45_000;

/**
 * The events child's job on a context: it faults dst in, moves it onto src
 * (MREMAP_FIXED), releases it with `releaseAdvice`, and checks each page's
 * counter against `expected` and, unless `tags: false`, its tag.
 */
export function eventsChildArgs(
  ctx: UffdTestContext,
  opts: { expected: ArrayLike<number>; releaseAdvice: number; tags?: boolean },
): EventsChildArgs {
  return {
    dst: ctx.dst.addr,
    remapTo: ctx.src.addr,
    pages: ctx.pages,
    pageSize: ctx.pageSize,
    countOffset: COUNT_OFFSET,
    expected: opts.expected,
    releaseAdvice: opts.releaseAdvice,
    tag: opts.tags === false ? undefined : { offset: TAG_OFFSET, seed: RUN_SEED },
  };
}

async function events(t: CaseRun, wp: boolean): Promise<void> {
  const mem = t.mem!;
  const ctx = t.context();
  ctx.register({ missing: true, wp });
  // Planted (tests only): page 0 copied in beforehand (write-protected like the handler's), so no missing fault for it.
  if (planted(t, "fault-count")) ctx.uffd.copy(ctx.dst.addr, ctx.src.addr, ctx.pageSize, { wp });
  const expected = Float64Array.from(ctx.countVerify);
  if (planted(t, "counter")) expected[ctx.pages - 1] = expected[ctx.pages - 1]! + 1;

  // Planted (tests only): copies left writable, so the writes raise no wp fault.
  const applyWp = wp && !planted(t, "wp-count");
  const handlers = await ctx.startHandlers({ onFork: "follow", applyWp, forbidWriteMissing: true });
  let child;
  try {
    child = await runEventsChild(eventsChildArgs(ctx, { expected, releaseAdvice: releaseAdvice(mem) }), {
      timeoutMs: caseLimitMs(CHILD_MS),
    });
  } finally {
    await ctx.stopHandlers();
  }
  const c = handlers.counters;
  t.note(handlerNote((name) => c.total(name)));
  const older = olderKernelStop(mem, child);
  if (older) t.note(older.note);
  const ran = child.status.kind === "exited" && child.status.code === 0;
  if (!older && !ran) t.check(false, "the faulting child", { expected: "exit 0", seen: childFailure(child) });
  const want = expectedCounts(ctx.pages, older);
  // Planted (tests only), one per event count: that count's check expects one more than it sees (fork, remap: than it should).
  t.equal("fork events", c.total("fork"), 1 + (planted(t, "fork-count") ? 1 : 0));
  t.equal("remap events", c.total("remap"), want.remap + (planted(t, "remap-count") ? 1 : 0));
  const removes = planted(t, "remove-count") ? c.total("remove") + 1 : want.remove;
  if (older) t.equal("remove events (no release on this kernel)", c.total("remove"), removes);
  else t.check(c.total("remove") >= removes, "remove events", { expected: `>= ${removes}`, seen: c.total("remove") });
  t.equal(`missing faults (${want.per})`, c.total("missing"), want.touched);
  if (wp) t.equal(`write-protect faults (${want.per})`, c.total("wp"), want.touched);
}

/**
 * The counts a run of `pages` pages should see: remap events, remove events
 * (at least; exactly none where an older kernel left the release out), and
 * pages touched, each one missing (and with -wp one wp) fault. Stopped before
 * the move, the child touched only the first half.
 */
export function expectedCounts(
  pages: number,
  older: { stage: "mremap" | "release" } | undefined,
): { remap: number; remove: number; touched: number; per: string } {
  if (older?.stage === "mremap") return { remap: 0, remove: 0, touched: Math.ceil(pages / 2), per: "one per page of the first half" };
  return { remap: 1, remove: older ? 0 : 1, touched: pages, per: "one per page" };
}

/** What the handler counted, as the case's note. */
export function handlerNote(total: (name: CounterName) => number): string {
  const late = total("wokenAfterRemove");
  return (
    `handler: ${total("missing")} missing, ${total("wp")} wp faults; events: ${total("fork")} fork, ${total("remap")} remap, ${total("remove")} remove` +
    (late > 0 ? `; ${late} fault(s) read after the REMOVE's UFFDIO_UNREGISTER (resolve gave ENOENT; woken with UFFDIO_WAKE)` : "")
  );
}

/** How the events child failed, in words: its exit's meaning, the stage, and what it found. */
export function childFailure(child: EventsChildResult): string {
  const s = child.status;
  const why = s.kind === "exited" ? forkedExitMeaning(s.code) : describeStatus(s);
  const at = child.stage ? ` at stage "${child.stage}"` : "";
  let detail = "";
  if (s.kind === "exited" && s.code === CHILD_EXIT.MISMATCH)
    detail = `: page ${child.page} counter ${child.seen}, expected ${child.expected}`;
  else if (s.kind === "exited" && s.code === FORKED_EXIT.RELEASED_NOT_ZERO)
    detail = `: page ${child.page} byte ${child.expected} is ${child.seen}`;
  else if (s.kind === "exited" && s.code === FORKED_EXIT.WRONG_PAGE) detail = `: ${tagText(child.page ?? 0, child.seen ?? 0n, RUN_SEED)}`;
  else if (child.errno) detail = `: ${errnoName(child.errno)}`;
  return `${why}${at}${detail}`;
}

/**
 * The child stopped where a kernel older than the step documents EINVAL:
 * mremap of hugetlb (before 5.16), MADV_DONTNEED on private hugetlb (before 5.18).
 */
export function olderKernelStop(mem: MemoryType, child: EventsChildResult): { stage: "mremap" | "release"; note: string } | undefined {
  const s = child.status;
  if (!mem.hugetlb || s.kind !== "exited" || s.code === 0 || child.errno !== Errno.EINVAL) return undefined;
  if (child.stage === "mremap") {
    return {
      stage: "mremap",
      note: "mremap of hugetlb: EINVAL (hugetlb mremap came in Linux 5.16): remap and release left out, as the C suite of that time did",
    };
  }
  if (child.stage === "release" && !mem.shared) {
    return {
      stage: "release",
      note: "MADV_DONTNEED on hugetlb: EINVAL (came in Linux 5.18): release left out, as the C suite of that time did",
    };
  }
  return undefined;
}

function row(name: string, wp: boolean): UnitCase {
  const features: FeatureName[] = ["EVENT_FORK", "EVENT_REMAP", "EVENT_REMOVE"];
  if (wp) features.push("PAGEFAULT_FLAG_WP", "WP_HUGETLBFS_SHMEM");
  return {
    name,
    description: `fork, remap and remove events followed by the handler while a child faults${wp ? " (write-protected copies)" : ""}`,
    memory: ALL_MEMORY,
    features,
    origin: "kernel",
    run: (t) => events(t, wp),
  };
}

export const eventsCases: readonly UnitCase[] = [row("events", false), row("events-wp", true)];
