// What sizes uffd-wp-mremap walks: the base page, each THP size the kernel
// offers for anonymous memory (a hugepages-<N>kB folder with an `enabled`
// knob), and each hugetlb page size.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const THP_DIR = "/sys/kernel/mm/transparent_hugepage";
export const HUGETLB_DIR = "/sys/kernel/mm/hugepages";

function sizesIn(dir: string, keep: (name: string) => boolean): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ n, m: /^hugepages-(\d+)kB$/.exec(n) }))
    .filter((x) => x.m && keep(x.n))
    .map((x) => Number(x.m![1]) * 1024)
    .sort((a, b) => a - b);
}

/** THP sizes in bytes, smallest first (none where THP is not built in). */
export function thpSizes(): number[] {
  if (!existsSync(join(THP_DIR, "hpage_pmd_size"))) return [];
  return sizesIn(THP_DIR, (n) => existsSync(join(THP_DIR, n, "enabled")));
}

/** Hugetlb page sizes in bytes, smallest first. */
export function hugetlbSizes(): number[] {
  return sizesIn(HUGETLB_DIR, () => true);
}

export function thpKnob(size: number, which: "enabled" | "shmem_enabled"): string {
  return join(THP_DIR, `hugepages-${size / 1024}kB`, which);
}

export function hugetlbDir(size: number): string {
  return join(HUGETLB_DIR, `hugepages-${size / 1024}kB`);
}

export function readCount(path: string): number {
  return Number(readFileSync(path, "utf8").trim());
}
