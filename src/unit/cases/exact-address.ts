// exact-address (ours): with UFFD_FEATURE_EXACT_ADDRESS a pagefault message
// carries the address the thread touched, offset within the page included;
// without it the kernel masks the address to the start of the page (the
// memory type's page: a huge page for hugetlb).
import type { UffdTestContext } from "../../harness/context.ts";
import { PAGE_SIZE } from "../../sys/mem.ts";
import { Uffd } from "../../uffd/uffd.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { hex, KIT_HUGEPAGES, kitContext, needFeatures, pending, planted, readMessages, showEvent, touchMs } from "./beyond-kit.ts";

/** Touch page `page` at `offset` from a Worker; serve the fault through `u`; the address the message reported. */
async function faultAddress(ctx: UffdTestContext, u: Uffd, page: number, offset: number): Promise<{ seen: string; address?: number }> {
  const ps = ctx.pageSize;
  const at = ctx.dst.addr + page * ps;
  const job = pending(ctx.touch({ start: at, pages: 1, pageSize: ps, op: "read", offset }, { timeoutMs: touchMs() }));
  const msgs = await readMessages(u, 1, touchMs());
  const m = msgs[0];
  if (msgs.length !== 1 || m?.type !== "pagefault") return { seen: msgs.map(showEvent).join("; ") || "no message" };
  u.copy(at, ctx.src.addr + page * ps, ps);
  await job.done;
  return { seen: showEvent(m), address: m.address };
}

async function exactAddress(t: CaseRun): Promise<void> {
  const features = needFeatures(t, ["EXACT_ADDRESS"]);
  const ctx = kitContext(t, features);
  const ps = ctx.pageSize;
  ctx.register({ missing: true });
  // Offset 123 in a page; on huge pages also an offset past the first base page.
  const probes = [{ page: 2, offset: 123 }];
  if (ps > PAGE_SIZE) probes.push({ page: 3, offset: 3 * PAGE_SIZE + 123 });
  for (const { page, offset } of probes) {
    const want = ctx.dst.addr + page * ps + offset + (planted(t, "exact-address") ? 1 : 0);
    const r = await faultAddress(ctx, ctx.uffd, page, offset);
    t.check(r.address === want, `fault address with EXACT_ADDRESS (page ${page} + ${offset})`, { expected: hex(want), seen: r.seen });
  }

  ctx.uffd.unregister(ctx.dstRange);
  const plain = Uffd.create({ features: features.filter((f) => f !== "EXACT_ADDRESS") });
  try {
    plain.register(ctx.dstRange, { missing: true });
    const page = 5;
    const offset = ps > PAGE_SIZE ? 3 * PAGE_SIZE + 123 : 123;
    const want = ctx.dst.addr + page * ps;
    const r = await faultAddress(ctx, plain, page, offset);
    t.check(r.address === want, `fault address without EXACT_ADDRESS (page ${page} + ${offset})`, {
      expected: `${hex(want)} (the ${ps}-byte page)`,
      seen: r.seen,
    });
  } finally {
    plain.close();
  }
}

export const exactAddressCases: readonly UnitCase[] = [
  {
    name: "exact-address",
    description: "EXACT_ADDRESS: a fault at page offset 123 reports that exact address; without the feature the page start",
    memory: ALL_MEMORY,
    features: ["EXACT_ADDRESS"],
    hugepages: KIT_HUGEPAGES,
    origin: "suite",
    run: exactAddress,
  },
];
