// Why a planned case cannot run here, decided before it starts: no
// userfaultfd, no hugetlb, missing features, too few free huge pages.
import { hugepagesNeeded } from "../harness/context.ts";
import { hugepageShortage } from "../machine/hugepages.ts";
import { defaultHugePageSize, type MemoryType } from "../harness/memory.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import type { FeatureName } from "../uffd/constants.ts";
import type { UnitCase } from "./case.ts";

/**
 * The kernel as the runner sees it: its features (and those it refuses to
 * this process, with the reason), or why a userfaultfd cannot be had.
 */
export type KernelView =
  | { readonly features: FeatureSet; readonly denied?: ReadonlyMap<FeatureName, string> }
  | { readonly openError: string };

/** Huge pages a hugetlb run of `c` needs free (0 for other memory types). */
export function hugepagesFor(c: UnitCase, mem: MemoryType | undefined): number {
  if (!mem?.hugetlb || defaultHugePageSize() === 0) return 0;
  return c.hugepages ?? hugepagesNeeded(mem);
}

/** Reasons that do not depend on the moment (everything but free huge pages). */
export function staticSkipReason(c: UnitCase, mem: MemoryType | undefined, kernel: KernelView): string | undefined {
  // The API checks open their own fds and say themselves when they cannot.
  if ("openError" in kernel && c.memory !== "none") {
    // "no permission to create a userfaultfd (needs root, ...)" says it all.
    return /^no permission/.test(kernel.openError) ? kernel.openError : `cannot open a userfaultfd: ${kernel.openError}`;
  }
  if (mem?.hugetlb && defaultHugePageSize() === 0) return "no hugetlb page size on this kernel";
  if ("features" in kernel) {
    const missing = kernel.features.missing(c.features);
    if (missing.length > 0) return `feature missing: ${missing.join(", ")}`;
    const denied = c.features.map((f) => kernel.denied?.get(f)).filter((r) => r !== undefined);
    if (denied.length > 0) return denied.join(", ");
  }
  return undefined;
}

/**
 * The reason to skip now, checking huge pages last. `refused`: why this
 * run's own share of huge pages could not be reserved; then the case skips
 * naming that, rather than use pages it finds free (another run's).
 */
export function skipReason(c: UnitCase, mem: MemoryType | undefined, kernel: KernelView, refused?: string): string | undefined {
  const fixed = staticSkipReason(c, mem, kernel);
  if (fixed) return fixed;
  const need = hugepagesFor(c, mem);
  if (need === 0) return undefined;
  return refused ? `not enough HugeTLB pages (need ${need}; could not reserve them for this run: ${refused})` : hugepageShortage(need);
}
