// events-unmap (ours): with UFFD_FEATURE_EVENT_UNMAP, munmap of part of a
// registered range and an mremap that shrinks it each deliver exactly one
// UNMAP message naming the range that went away. The call blocks until the
// message is read, so a toucher Worker makes it while the test thread reads.
// Afterwards the range is gone from the uffd: fresh memory mapped there
// faults as ordinary memory (no message), while the part still registered
// does raise a missing fault. The holes are refilled without MAP_FIXED (see
// Area.refill): whatever another thread mapped there meanwhile is not touched.
import type { UffdTestContext } from "../../harness/context.ts";
import type { TouchJob } from "../../harness/protocol.ts";
import { errnoName } from "../../sys/errno.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import {
  hex,
  KIT_HUGEPAGES,
  kitContext,
  messagesWithin,
  needFeatures,
  pending,
  planted,
  readMessages,
  showEvent,
  touchMs,
} from "./beyond-kit.ts";

/** Run munmap/mremap in a Worker and read the UNMAP message it waits for; check both. */
async function unmapEvent(
  t: CaseRun,
  ctx: UffdTestContext,
  what: string,
  job: Omit<TouchJob, "type">,
  range: { start: number; end: number },
): Promise<void> {
  const call = pending(ctx.touch(job, { timeoutMs: touchMs() }));
  const msgs = await readMessages(ctx.uffd, 1, touchMs());
  const r = await call.done;
  if (r.rc === 0) ctx.dst.holeAt(range.start, range.end - range.start);
  t.check(r.rc === 0, `${what} in a Worker`, { expected: "returns 0", seen: r.rc === undefined ? "no result" : errnoName(-r.rc) });
  msgs.push(...(await messagesWithin(ctx.uffd, 20)));
  const want = planted(t, "events-unmap") ? { start: range.start, end: range.end + ctx.pageSize } : range;
  const m = msgs[0];
  t.check(msgs.length === 1 && m?.type === "unmap" && m.start === want.start && m.end === want.end, `messages for the ${what}`, {
    expected: `one unmap ${hex(want.start)}-${hex(want.end)}`,
    seen: msgs.map(showEvent).join("; ") || "none",
  });
}

async function eventsUnmap(t: CaseRun): Promise<void> {
  const features = needFeatures(t, ["EVENT_UNMAP"]);
  const ctx = kitContext(t, features);
  const ps = ctx.pageSize;
  const dst = ctx.dst.addr;
  const page = (p: number) => dst + p * ps;
  ctx.register({ missing: true });

  // munmap pages [2, 4): the middle of the registered range.
  await unmapEvent(
    t,
    ctx,
    "munmap of pages 2-3",
    { start: page(2), pages: 2, pageSize: ps, op: "munmap" },
    { start: page(2), end: page(4) },
  );
  // mremap pages [4, 8) down to [4, 6): the tail [6, 8) goes.
  await unmapEvent(
    t,
    ctx,
    "mremap shrinking pages 4-7 to 4-5",
    { start: page(4), pages: 4, pageSize: ps, op: "mremap", newLen: 2 * ps },
    { start: page(6), end: page(8) },
  );

  // Fresh anonymous memory where the unmapped pages were: not registered, no
  // message. Never MAP_FIXED over a hole: another thread of this process may
  // have mapped its own memory there since (that clobbered Bun's heap).
  for (const p of [2, 6]) {
    if (!ctx.dst.refill(page(p), 2 * ps)) {
      t.note(`pages ${p}-${p + 1}: another mapping of this process took the hole; no read of new memory there`);
      continue;
    }
    const r = pending(ctx.touch({ start: page(p), pages: 2, pageSize: ps, op: "read" }, { timeoutMs: touchMs() }));
    const msgs = await messagesWithin(ctx.uffd, 20);
    await r.done;
    t.check(msgs.length === 0, `messages for a read of new memory at pages ${p}-${p + 1}`, {
      expected: "none",
      seen: msgs.map(showEvent).join("; "),
    });
  }
  // The part still registered faults as before.
  const kept = pending(ctx.touch({ start: page(5), pages: 1, pageSize: ps, op: "read" }, { timeoutMs: touchMs() }));
  const msgs = await readMessages(ctx.uffd, 1, touchMs());
  const m = msgs[0];
  t.check(msgs.length === 1 && m?.type === "pagefault" && m.address === page(5), "messages for a read of page 5 (still registered)", {
    expected: `one pagefault at ${hex(page(5))}`,
    seen: msgs.map(showEvent).join("; ") || "none",
  });
  ctx.uffd.copy(page(5), ctx.src.addr + 5 * ps, ps);
  await kept.done;
}

export const eventsUnmapCases: readonly UnitCase[] = [
  {
    name: "events-unmap",
    description: "EVENT_UNMAP: munmap and a shrinking mremap of a registered range each send one UNMAP with the exact range",
    memory: ALL_MEMORY,
    features: ["EVENT_UNMAP"],
    hugepages: KIT_HUGEPAGES,
    origin: "suite",
    run: eventsUnmap,
  },
];
