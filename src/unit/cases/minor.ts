// minor, minor-wp (shmem, hugetlb), minor-collapse (shmem): the alias view
// is registered for minor faults and the pages are filled through the other,
// unregistered view. Each first read through the alias is a minor fault: the
// handler flips the page's bytes through the other view and maps it with
// UFFDIO_CONTINUE (write-protected in minor-wp); a second CONTINUE on the
// page must give -EEXIST. Every byte is then checked, and the handler must
// have seen exactly one minor fault per page and no missing fault.
// minor-collapse then folds the pages into huge pages with MADV_COLLAPSE and
// smaps must show them PMD-mapped, with the contents unchanged.
import { writePageTags } from "../../harness/source.ts";
import { describeMismatch } from "../../harness/touch.ts";
import type { UffdTestContext } from "../../harness/context.ts";
import { pmdSize } from "../../harness/memory.ts";
import { smapsField } from "../../harness/smaps.ts";
import { Errno, errnoName } from "../../sys/errno.ts";
import { decodePagemap, Pagemap } from "../../sys/native/pagemap.ts";
import { bytesAt, MADV, PAGE_SIZE, tryMadvise } from "../../sys/mem.ts";
import type { CaseRun, UnitCase } from "../case.ts";
import { caseLimitMs } from "../../harness/limits.ts";

/**
 * Page p holds the byte p % 255 everywhere (the C pattern) but for its tag
 * (source.ts, so a wrong page is named), in the source and, through the
 * unregistered view, the destination.
 */
function fillPattern(t: CaseRun, ctx: UffdTestContext): void {
  for (let p = 0; p < ctx.pages; p++) bytesAt(ctx.src.addr + p * ctx.pageSize, ctx.pageSize).fill(p % 255);
  writePageTags(ctx.src.addr, ctx.pages, ctx.pageSize);
  bytesAt(ctx.dst.addr, ctx.size).set(bytesAt(ctx.src.addr, ctx.size));
  // The source is what the alias must read back (flipped): corrupting it plants a content failure.
  if (t.planted.plant.has("content")) {
    const b = bytesAt(ctx.src.addr + ctx.pageSize + 7, 1);
    b[0] = b[0]! ^ 1;
  }
}

async function verifyAlias(t: CaseRun, ctx: UffdTestContext, when: string): Promise<void> {
  const r = await ctx.verifyDst({ view: "alias", xor: 0xff, timeoutMs: caseLimitMs(30_000) });
  t.check(r.mismatches === 0, `bytes read through the registered view ${when}`, {
    expected: "every byte of page p equal to ~(p % 255)",
    seen: describeMismatch(r),
  });
}

/** Every base page of the alias must be present, with the uffd-wp bit as asked. */
function checkMapped(t: CaseRun, ctx: UffdTestContext, wp: boolean): void {
  const pm = new Pagemap();
  try {
    let absent = 0;
    let wrongWp = 0;
    let first = -1;
    for (let off = 0; off < ctx.size; off += PAGE_SIZE) {
      const b = decodePagemap(pm.entry(ctx.dst.alias + off));
      if (!b.present) absent++;
      if (b.uffdWp !== wp) wrongWp++;
      if (first < 0 && (!b.present || b.uffdWp !== wp)) first = off;
    }
    const pages = ctx.size / PAGE_SIZE;
    t.check(absent === 0 && wrongWp === 0, "pagemap of the registered view after UFFDIO_CONTINUE", {
      expected: `${pages} present pages, uffd-wp ${wp ? "set" : "clear"}`,
      seen: `${absent} not present, ${wrongWp} with uffd-wp ${wp ? "clear" : "set"} (first at offset 0x${first.toString(16)})`,
    });
  } finally {
    pm.close();
  }
}

async function minorTest(t: CaseRun, opts: { wp: boolean; collapse: boolean }): Promise<void> {
  const ctx = t.context({ initSource: false });
  ctx.register({ minor: true, wp: opts.wp }, { view: "alias" });
  fillPattern(t, ctx);
  const h = await ctx.startHandlers({ registered: "alias", applyWp: opts.wp });
  await verifyAlias(t, ctx, "after the minor faults");
  await ctx.stopHandlers();
  const pages = ctx.pages + (t.planted.plant.has("fault-count") ? 1 : 0);
  t.equal("minor faults (one per page)", h.counters.total("minor"), pages);
  // Planted (tests only): the missing count expects one.
  t.equal("missing faults", h.counters.total("missing"), t.planted.plant.has("missing-count") ? 1 : 0);
  checkMapped(t, ctx, opts.wp);
  if (!opts.collapse) return;

  const err = tryMadvise(ctx.dst.alias, ctx.size, MADV.COLLAPSE);
  // EINVAL: no MADV_COLLAPSE here (kernel before 6.1, THP off); EAGAIN/ENOMEM:
  // no huge page to be had now. Any other errno is a failure.
  if (err === Errno.EINVAL) t.skip(`MADV_COLLAPSE not supported (EINVAL)`);
  if (err === Errno.EAGAIN || err === Errno.ENOMEM) t.skip(`MADV_COLLAPSE could not get a huge page (${errnoName(err)})`);
  t.check(err === 0, "MADV_COLLAPSE of the registered view", { expected: "succeeds", seen: `fails with ${errnoName(err)}` });
  const want = (ctx.size / pmdSize()) * (pmdSize() / 1024);
  const seen = smapsField(ctx.dst.alias, "ShmemPmdMapped");
  t.check(seen === want, "ShmemPmdMapped of the registered view after MADV_COLLAPSE", { expected: `${want} kB`, seen: `${seen} kB` });
  // Mapped by PMD now: reading raises no fault (none is served any more) and finds the same bytes.
  await verifyAlias(t, ctx, "after MADV_COLLAPSE");
}

export const minorCases: readonly UnitCase[] = [
  {
    name: "minor",
    description: "minor faults on the registered alias resolved by UFFDIO_CONTINUE after flipping the bytes; repeat CONTINUE gives -EEXIST",
    memory: ["shmem", "hugetlb"],
    features: ["MINOR_HUGETLBFS", "MINOR_SHMEM"],
    origin: "kernel",
    run: (t) => minorTest(t, { wp: false, collapse: false }),
  },
  {
    name: "minor-wp",
    description: "as minor, resolved with UFFDIO_CONTINUE_MODE_WP: pages end up mapped write-protected (pagemap bit 57)",
    memory: ["shmem", "hugetlb"],
    features: ["MINOR_HUGETLBFS", "MINOR_SHMEM", "PAGEFAULT_FLAG_WP", "WP_UNPOPULATED"],
    origin: "kernel",
    run: (t) => minorTest(t, { wp: true, collapse: false }),
  },
  {
    name: "minor-collapse",
    description: "minor test, then MADV_COLLAPSE: smaps ShmemPmdMapped shows the whole area PMD-mapped, contents unchanged",
    memory: ["shmem"],
    features: ["MINOR_SHMEM"],
    thp: true,
    origin: "kernel",
    run: (t) => minorTest(t, { wp: false, collapse: true }),
  },
];
