// zeropage: where registration offers UFFDIO_ZEROPAGE it maps one page of
// zeros (result = page size) and a second one on the same page (through the
// alias view where there is one) gives -EEXIST; where it is not offered
// (hugetlb) the call fails with -EINVAL.
import { describeMismatch } from "../../harness/touch.ts";
import { pageSizeOf } from "../../harness/memory.ts";
import { Errno, errnoName } from "../../sys/errno.ts";
import { Scratch } from "../../sys/mem.ts";
import { ALL_MEMORY, type UnitCase } from "../case.ts";

/** Pages per area: only the first destination page (and its alias) is used, inside a larger area as in the C. */
const AREA_PAGES = 2;

function result(r: number): string {
  return r < 0 ? `-${errnoName(-r)}` : String(r);
}

export const zeropageCases: readonly UnitCase[] = [
  {
    name: "zeropage",
    description: "UFFDIO_ZEROPAGE where offered: maps a zero page, repeat gives -EEXIST; elsewhere (hugetlb) -EINVAL",
    memory: ALL_MEMORY,
    features: [],
    // The source's reservation (it is never filled), and the destination page a zeropage would map.
    hugepages: AREA_PAGES + 1,
    origin: "kernel",
    async run(t) {
      const ctx = t.context({ size: AREA_PAGES * pageSizeOf(t.mem!), initSource: false });
      const ps = ctx.pageSize;
      const page = { start: ctx.dst.addr, len: ps };
      const alias = { start: ctx.dst.alias, len: ps };
      const hasAlias = ctx.dst.alias !== ctx.dst.addr;
      const offered = ctx.uffd.register(page, { missing: true }).has("ZEROPAGE");
      if (hasAlias) ctx.uffd.register(alias, { missing: true });

      const rc = ctx.uffd.tryZeropage(page.start, ps);
      const res = ctx.uffd.lastResult;
      if (!offered) {
        t.check(rc !== 0 && res === -Errno.EINVAL, "UFFDIO_ZEROPAGE where registration does not offer it", {
          expected: "fails, result -EINVAL",
          seen: rc === 0 ? `succeeds, result ${result(res)}` : `fails with ${errnoName(-rc)}, result ${result(res)}`,
        });
      } else {
        t.check(rc === 0 && res === ps, "UFFDIO_ZEROPAGE on a missing page", {
          expected: `succeeds, result ${ps}`,
          seen: rc === 0 ? `succeeds, result ${result(res)}` : `fails with ${errnoName(-rc)}, result ${result(res)}`,
        });
        // Read the page back from a toucher Worker: it must be all zeros (and must not fault).
        const zeros = new Scratch(ps);
        t.defer(() => zeros.dispose());
        if (t.planted.plant.has("content")) zeros.bytes[100] = 1;
        const r = await ctx.touch(
          { start: page.start, pages: 1, pageSize: ps, op: "read", compareWith: zeros.addr },
          { timeoutMs: 10_000 },
        );
        t.check(r.mismatches === 0, "page after UFFDIO_ZEROPAGE", {
          expected: "all zero bytes",
          seen: describeMismatch(r),
        });
        const again = ctx.uffd.tryZeropage(alias.start, ps);
        const res2 = ctx.uffd.lastResult;
        // Planted (tests only): expect another errno, so the EEXIST check must report the mismatch.
        const want = t.planted.plant.has("eexist") ? Errno.EBUSY : Errno.EEXIST;
        t.check(again !== 0 && res2 === -want, `second UFFDIO_ZEROPAGE on the same page${hasAlias ? " (alias view)" : ""}`, {
          expected: `fails, result -${errnoName(want)}`,
          seen: again === 0 ? `succeeds, result ${result(res2)}` : `fails with ${errnoName(-again)}, result ${result(res2)}`,
        });
      }
      ctx.uffd.unregister(page);
      if (hasAlias) ctx.uffd.unregister(alias);
    },
  },
];
