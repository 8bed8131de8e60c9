// harness/memory.ts's table of what each memory type offers agrees with the
// kernel: registering a range answers UFFDIO_ZEROPAGE exactly where the
// table says it resolves faults, CONTINUE (minor mode) where the table gives
// minor faults, and anonymous memory refuses minor mode. The feature lists
// follow the type's features.
import { describe, expect, test } from "bun:test";
import { Area, featuresFor, lackingFor, MEMORY, MEMORY_NAMES, pageSizeOf } from "../src/harness/memory.ts";
import { hugepageShortage, mayChangeSettings, reserveHugepages } from "../src/machine/hugepages.ts";
import { FeatureSet } from "../src/uffd/bits.ts";
import { Uffd } from "../src/uffd/uffd.ts";

let kernel: FeatureSet | undefined;
try {
  using u = Uffd.create();
  kernel = u.available;
} catch {
  kernel = undefined;
}

describe("memory types: what each offers", () => {
  test("the feature lists follow each type's features", () => {
    for (const name of MEMORY_NAMES) {
      const m = MEMORY[name];
      expect(featuresFor(m, "missing")).toEqual(m.missingFeature ? [m.missingFeature] : []);
      expect(featuresFor(m, "wp")).toEqual(["PAGEFAULT_FLAG_WP", ...(m.wpFeature ? [m.wpFeature] : [])]);
      expect(featuresFor(m, "minor")).toEqual(m.minorFeature ? [m.minorFeature] : undefined);
      expect(m.offers.move).toBe(name === "anon");
      expect(m.offers.zeropage).toBe(!m.hugetlb);
    }
    expect(lackingFor(MEMORY.anon, "minor", FeatureSet.of([]))).toBe("anon has no minor faults");
    expect(lackingFor(MEMORY.shmem, "wp", FeatureSet.of(["PAGEFAULT_FLAG_WP"]))).toBe("feature missing: WP_HUGETLBFS_SHMEM");
    expect(lackingFor(MEMORY.anon, "wp", FeatureSet.of(["PAGEFAULT_FLAG_WP"]))).toBeUndefined();
  });

  for (const name of MEMORY_NAMES) {
    const mem = MEMORY[name];
    const why = !kernel
      ? "no userfaultfd"
      : mem.hugetlb && !mayChangeSettings()
        ? hugepageShortage(2)
        : kernel.missing([...mem.offers.missing]).length > 0
          ? "feature missing"
          : undefined;
    test.skipIf(why !== undefined)(`${name}: the ioctls REGISTER answers match the table${why ? ` (skipped: ${why})` : ""}`, () => {
      const minor = featuresFor(mem, "minor");
      const features = [...mem.offers.missing, ...(minor && kernel!.missing([...minor]).length === 0 ? minor : [])];
      // As root, huge pages of this test's own, given back at the end.
      using _pages = mem.hugetlb && mayChangeSettings() ? reserveHugepages(2) : undefined;
      using u = Uffd.create({ features });
      using area = Area.allocate(mem, pageSizeOf(mem));
      const missing = u.register({ start: area.addr, len: area.size }, { missing: true });
      expect(missing.has("ZEROPAGE")).toBe(mem.offers.zeropage);
      expect(missing.has("COPY")).toBe(true);
      u.unregister({ start: area.addr, len: area.size });
      if (minor && features.includes(minor[0]!)) {
        expect(u.register({ start: area.addr, len: area.size }, { minor: true }).has("CONTINUE")).toBe(true);
      } else if (!mem.fileBacked) {
        // No page cache: the kernel refuses minor mode outright.
        expect(() => u.register({ start: area.addr, len: area.size }, { minor: true })).toThrow();
      }
    });
  }
});
