// thread-id (ours): with UFFD_FEATURE_THREAD_ID every pagefault message names
// the thread that faulted. Two toucher Workers fault different pages at the
// same time; each message must carry the tid that Worker reports for itself
// (gettid), and the two differ from each other and from the test thread.
// A second uffd opened without the feature must report 0 in the field.
import type { UffdTestContext } from "../../harness/context.ts";
import { gettid } from "../../sys/fd.ts";
import type { FeatureName } from "../../uffd/constants.ts";
import type { UffdEvent } from "../../uffd/events.ts";
import { Uffd } from "../../uffd/uffd.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { hex, KIT_HUGEPAGES, kitContext, needFeatures, pending, planted, readMessages, showEvent, touchMs } from "./beyond-kit.ts";

/** Fault `pages` of the destination from one Worker each, serve them with COPY through `u`; the messages and each Worker's tid. */
async function faultFromWorkers(ctx: UffdTestContext, u: Uffd, pages: readonly number[]): Promise<{ msgs: UffdEvent[]; tids: number[] }> {
  const ps = ctx.pageSize;
  const jobs = pages.map((p) =>
    pending(ctx.touch({ start: ctx.dst.addr + p * ps, pages: 1, pageSize: ps, op: "read", reportTid: true }, { timeoutMs: touchMs() })),
  );
  const msgs = await readMessages(u, pages.length, touchMs());
  for (const m of msgs) {
    if (m.type !== "pagefault") continue;
    const off = m.address - ctx.dst.addr - ((m.address - ctx.dst.addr) % ps);
    u.copy(ctx.dst.addr + off, ctx.src.addr + off, ps);
  }
  // Only wait for the touchers when every fault was served (dispose wakes the rest).
  if (msgs.length < pages.length) return { msgs, tids: [] };
  const results = await Promise.all(jobs.map((j) => j.done));
  return { msgs, tids: results.map((r) => r.tid ?? -1) };
}

async function threadId(t: CaseRun): Promise<void> {
  const features = needFeatures(t, ["THREAD_ID"]);
  const ctx = kitContext(t, features);
  const ps = ctx.pageSize;
  ctx.register({ missing: true });
  const pages = [1, 3];
  const { msgs, tids } = await faultFromWorkers(ctx, ctx.uffd, pages);
  t.equal("pagefault messages (one per Worker)", msgs.length, pages.length);
  const me = gettid();
  t.check(tids[0] !== tids[1] && !tids.includes(me), "toucher thread ids", {
    expected: `two distinct tids, neither the test thread's ${me}`,
    seen: tids.join(", "),
  });
  pages.forEach((p, i) => {
    const m = msgs.find((e) => e.type === "pagefault" && e.address - (e.address % ps) === ctx.dst.addr + p * ps);
    const want = planted(t, "thread-id") ? tids[i]! + 1 : tids[i]!;
    t.check(m?.type === "pagefault" && m.threadId === want, `thread id in the fault message for page ${p}`, {
      expected: `pagefault at ${hex(ctx.dst.addr + p * ps)} tid ${want}`,
      seen: showEvent(m),
    });
  });

  // The same on a uffd without the feature: the field stays 0.
  ctx.uffd.unregister(ctx.dstRange);
  const plain = Uffd.create({ features: features.filter((f: FeatureName) => f !== "THREAD_ID") });
  try {
    plain.register(ctx.dstRange, { missing: true });
    const other = await faultFromWorkers(ctx, plain, [5]);
    const m = other.msgs[0];
    t.check(other.msgs.length === 1 && m?.type === "pagefault" && m.threadId === 0, "thread id without THREAD_ID", {
      expected: "one pagefault message with tid 0",
      seen: other.msgs.map(showEvent).join("; ") || "none",
    });
  } finally {
    plain.close();
  }
}

export const threadIdCases: readonly UnitCase[] = [
  {
    name: "thread-id",
    description: "THREAD_ID: each fault message names the faulting thread (gettid of the Worker); 0 without the feature",
    memory: ALL_MEMORY,
    features: ["THREAD_ID"],
    hugepages: KIT_HUGEPAGES,
    origin: "suite",
    run: threadId,
  },
];
