// wp-unpopulated (anon, WP_UNPOPULATED): write-protecting a page that was
// never touched leaves a marker (pagemap bit 57); unprotect clears it, and so
// does MADV_DONTNEED; a write after that is an ordinary fault; a read on a
// marker maps the zero page and keeps the bit. The pagemap is read with
// pread from this thread, which does not touch the page; the accesses come
// from a toucher Worker (a wp fault nobody serves would hang it, and the
// time limit turns that into a failure).
import { decodePagemap, Pagemap } from "../../sys/native/pagemap.ts";
import { MADV, madvise } from "../../sys/mem.ts";
import type { CaseRun, UnitCase } from "../case.ts";

function expectBits(t: CaseRun, pm: Pagemap, addr: number, step: string, want: { wp: boolean; present?: boolean }): void {
  const bits = decodePagemap(pm.entry(addr));
  const wantWp = t.planted.plant.has("pagemap-wp") && step === "after UFFDIO_WRITEPROTECT on the empty page" ? !want.wp : want.wp;
  t.check(bits.uffdWp === wantWp, `pagemap uffd-wp bit ${step}`, {
    expected: wantWp ? "set" : "clear",
    seen: bits.uffdWp ? "set" : "clear",
  });
  if (want.present !== undefined) {
    t.check(bits.present === want.present, `pagemap present bit ${step}`, {
      expected: want.present ? "set" : "clear",
      seen: bits.present ? "set" : "clear",
    });
  }
}

export const wpUnpopulatedCases: readonly UnitCase[] = [
  {
    name: "wp-unpopulated",
    description:
      "UFFDIO_WRITEPROTECT on an empty PTE leaves a marker (pagemap bit 57); unprotect and DONTNEED clear it; access works after",
    memory: ["anon"],
    features: ["PAGEFAULT_FLAG_WP", "WP_UNPOPULATED"],
    origin: "kernel",
    async run(t) {
      const ctx = t.context({ initSource: false });
      const ps = ctx.pageSize;
      const page = { start: ctx.dst.addr, len: ps };
      ctx.register({ wp: true });
      const pm = new Pagemap();
      t.defer(() => pm.close());
      const access = (op: "read" | "write") =>
        ctx.touch({ start: page.start, pages: 1, pageSize: ps, op, value: 1 }, { timeoutMs: 10_000 });

      ctx.uffd.writeProtect(page, { wp: true });
      expectBits(t, pm, page.start, "after UFFDIO_WRITEPROTECT on the empty page", { wp: true, present: false });

      ctx.uffd.writeProtect(page, { wp: false });
      expectBits(t, pm, page.start, "after unprotecting the marker", { wp: false, present: false });

      ctx.uffd.writeProtect(page, { wp: true });
      madvise(page.start, ps, MADV.DONTNEED);
      expectBits(t, pm, page.start, "after MADV_DONTNEED on the marker", { wp: false, present: false });

      // No marker left: a write is an ordinary fault, no userfault.
      await access("write");
      expectBits(t, pm, page.start, "after writing the page", { wp: false, present: true });
      madvise(page.start, ps, MADV.DONTNEED);

      // A read on a marker maps the zero page, keeps the bit and raises no userfault.
      ctx.uffd.writeProtect(page, { wp: true });
      await access("read");
      expectBits(t, pm, page.start, "after reading through the marker", { wp: true, present: true });
      madvise(page.start, ps, MADV.DONTNEED);
    },
  },
];
