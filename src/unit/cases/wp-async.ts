// wp-async (ours): with UFFD_FEATURE_WP_ASYNC a write to a write-protected
// page is resolved by the kernel itself: no message, the page's uffd-wp bit
// cleared. PAGEMAP_SCAN on /proc/self/pagemap must then report exactly the
// pages written (PAGE_IS_WRITTEN), and, asked to write-protect what it
// matched (PM_SCAN_WP_MATCHING), start a new round in which only the pages
// written since show up.
import type { UffdTestContext } from "../../harness/context.ts";
import { MADV, madvise } from "../../sys/mem.ts";
import { decodePagemap, Pagemap } from "../../sys/native/pagemap.ts";
import { PAGE_IS, PagemapScanner, PM_SCAN, regionPages } from "../../sys/native/pagemap-scan.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { KIT_HUGEPAGES, kitContext, messagesWithin, needFeatures, planted, showEvent, touchMs } from "./beyond-kit.ts";

const list = (pages: readonly number[]) => `[${pages.join(", ")}]`;

/** Write one byte into each of `pages` from a toucher Worker; each write must complete with no message. */
async function writePages(t: CaseRun, ctx: UffdTestContext, pages: readonly number[]): Promise<void> {
  const ps = ctx.pageSize;
  for (const p of pages) {
    await ctx.touch(
      { start: ctx.dst.addr + p * ps, pages: 1, pageSize: ps, op: "write", offset: 64, value: 0x5a },
      { timeoutMs: touchMs() },
    );
  }
  const msgs = await messagesWithin(ctx.uffd, 20);
  t.check(msgs.length === 0, `messages for writes to write-protected pages ${list(pages)}`, {
    expected: "none (resolved by the kernel)",
    seen: msgs.map(showEvent).join("; "),
  });
}

async function wpAsync(t: CaseRun): Promise<void> {
  const features = needFeatures(t, ["PAGEFAULT_FLAG_WP", "WP_ASYNC"], { wp: true });
  const ctx = kitContext(t, features);
  const ps = ctx.pageSize;
  const range = { start: ctx.dst.addr, end: ctx.dst.addr + ctx.size };
  // Populate before registering (the kernel does it; nothing here touches the pages).
  madvise(ctx.dst.addr, ctx.size, MADV.POPULATE_WRITE);
  ctx.register({ wp: true });
  ctx.uffd.writeProtect(ctx.dstRange, { wp: true });

  const scanner = new PagemapScanner();
  const pagemap = new Pagemap();
  t.defer(() => {
    scanner.close();
    pagemap.close();
  });
  const written = (flags = 0) =>
    regionPages(scanner.scan({ ...range, flags, categoryMask: PAGE_IS.WRITTEN, returnMask: PAGE_IS.WRITTEN }), ctx.dst.addr, ps);

  t.equal("pages written right after UFFDIO_WRITEPROTECT (PAGEMAP_SCAN)", list(written()), "[]");
  const first = [1, 4, 6];
  await writePages(t, ctx, first);
  const want = planted(t, "wp-async") ? [...first, 7] : first;
  t.equal("pages written (PAGEMAP_SCAN, PAGE_IS_WRITTEN)", list(written()), list(want));
  const wpBit = Array.from({ length: ctx.pages }, (_, p) => decodePagemap(pagemap.entry(ctx.dst.addr + p * ps)).uffdWp);
  const clear = wpBit.flatMap((on, p) => (on ? [] : [p]));
  t.equal("pages with the uffd-wp bit clear (/proc/self/pagemap bit 57)", list(clear), list(want));

  // Scan and write-protect what matched: the next round sees only new writes.
  t.equal("pages matched by the scan that write-protects them", list(written(PM_SCAN.WP_MATCHING | PM_SCAN.CHECK_WPASYNC)), list(want));
  t.equal("pages written after that scan", list(written()), "[]");
  await writePages(t, ctx, [2]);
  t.equal("pages written in the second round", list(written()), "[2]");
}

export const wpAsyncCases: readonly UnitCase[] = [
  {
    name: "wp-async",
    description: "WP_ASYNC: writes to write-protected pages resolve without a message; PAGEMAP_SCAN reports exactly those pages",
    memory: ALL_MEMORY,
    features: ["PAGEFAULT_FLAG_WP", "WP_ASYNC"],
    hugepages: KIT_HUGEPAGES,
    origin: "suite",
    run: wpAsync,
  },
];
