// Shared pieces of the cases the C suite lacks (origin "suite"): the
// feature list a memory type needs, a small context, and the test thread
// reading a userfaultfd itself. The test thread only reads the fd and issues
// ioctls; every access to registered memory happens in a toucher Worker.
import type { UffdTestContext } from "../../harness/context.ts";
import { pageSizeOf } from "../../harness/memory.ts";
import type { TouchResult } from "../../harness/protocol.ts";
import type { FeatureName } from "../../uffd/constants.ts";
import type { UffdEvent } from "../../uffd/events.ts";
import type { Uffd } from "../../uffd/uffd.ts";
import type { CaseRun } from "../case.ts";
import { caseLimitMs } from "../../harness/limits.ts";

/** Pages per area in these cases (small: they look at single faults). */
export const KIT_PAGES = 8;
/** Huge pages a hugetlb run needs: source and destination of KIT_PAGES each. */
export const KIT_HUGEPAGES = 2 * KIT_PAGES;
/** Time limit of a toucher access that is expected to complete (10 s, stretched with --timeout). */
export function touchMs(): number {
  return caseLimitMs(10_000);
}

/**
 * `extra` plus what the case's memory type needs to be registered for
 * missing faults, and with `wp` for write-protect (its `offers` in
 * harness/memory.ts); skips with
 * `feature missing: X` where the kernel lacks any.
 */
export function needFeatures(t: CaseRun, extra: readonly FeatureName[], opts: { wp?: boolean } = {}): FeatureName[] {
  const mem = t.mem!;
  const want = new Set<FeatureName>([...extra, ...mem.offers.missing, ...(opts.wp ? mem.offers.wp : [])]);
  const list = [...want];
  const missing = t.kernel.missing(list);
  if (missing.length > 0) t.skip(`feature missing: ${missing.join(", ")}`);
  return list;
}

/** A context of KIT_PAGES pages per area with exactly `features` enabled. */
export function kitContext(t: CaseRun, features: readonly FeatureName[], opts: { userModeOnly?: boolean } = {}): UffdTestContext {
  return t.context({
    features,
    size: KIT_PAGES * pageSizeOf(t.mem!),
    open: opts.userModeOnly === undefined ? undefined : { userModeOnly: opts.userModeOnly },
  });
}

/** Whether the planted fault `name` is asked for (tests only). */
export function planted(t: CaseRun, name: string): boolean {
  return t.planted.plant.has(name);
}

/**
 * Read messages from a non-blocking uffd on this thread without blocking it,
 * until `count` have arrived or `timeoutMs` has passed; returns what came.
 */
export async function readMessages(u: Uffd, count: number, timeoutMs: number): Promise<UffdEvent[]> {
  const out: UffdEvent[] = [];
  const deadline = performance.now() + timeoutMs;
  while (out.length < count) {
    out.push(...u.readEvents());
    if (out.length >= count || performance.now() > deadline) break;
    await Bun.sleep(1);
  }
  return out;
}

/** Messages that arrive within `ms` (a check that nothing does). */
export async function messagesWithin(u: Uffd, ms: number): Promise<UffdEvent[]> {
  const out: UffdEvent[] = [];
  const deadline = performance.now() + ms;
  do {
    out.push(...u.readEvents());
    await Bun.sleep(2);
  } while (performance.now() < deadline);
  out.push(...u.readEvents());
  return out;
}

/** Wait until `cond` holds or `ms` pass; returns whether it held. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await Bun.sleep(1);
  }
  return true;
}

/** An event as a diagnostic shows it. */
export function showEvent(e: UffdEvent | undefined): string {
  if (!e) return "none";
  const hex = (n: number) => `0x${n.toString(16)}`;
  switch (e.type) {
    case "pagefault":
      return `pagefault ${e.kind}${e.write ? " write" : ""} at ${hex(e.address)} tid ${e.threadId}`;
    case "unmap":
    case "remove":
      return `${e.type} ${hex(e.start)}-${hex(e.end)}`;
    case "remap":
      return `remap ${hex(e.from)} -> ${hex(e.to)} len ${hex(e.len)}`;
    case "fork":
      return `fork uffd ${e.uffd}`;
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** A promise watched without awaiting it (its rejection is never left unhandled). */
export interface Pending<T> {
  readonly done: Promise<T>;
  settled(): boolean;
}

export function pending<T>(p: Promise<T>): Pending<T> {
  let over = false;
  p.then(
    () => (over = true),
    () => (over = true),
  );
  return { done: p, settled: () => over };
}

/**
 * Start a Worker reading the one page at `at` (compared with `compareWith`,
 * its progress counted in `progress`) and check that its fault arrives: one
 * missing pagefault at `at`. The read is left waiting for the caller.
 */
export async function faultingReader(
  t: CaseRun,
  ctx: UffdTestContext,
  at: number,
  compareWith: number,
  progress: Int32Array,
): Promise<Pending<TouchResult>> {
  const reader = pending(
    ctx.touch(
      { start: at, pages: 1, pageSize: ctx.pageSize, op: "read", compareWith, progress: progress.buffer as SharedArrayBuffer },
      { timeoutMs: touchMs() },
    ),
  );
  const msgs = await readMessages(ctx.uffd, 1, touchMs());
  t.check(msgs.length === 1 && msgs[0]?.type === "pagefault" && msgs[0].address === at, "the toucher's fault", {
    expected: `one pagefault at ${hex(at)}`,
    seen: msgs.map(showEvent).join("; ") || "none",
  });
  return reader;
}
