// Hugetlb pages: what is free, and a scoped reservation that puts
// nr_hugepages back afterwards (after success, failure, or a signal).
import { defaultHugePageSize, meminfoKb } from "./memory.ts";
import { SettingChange } from "./restore.ts";

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";

export interface HugepageState {
  /** Default huge page size in bytes (0: none). */
  readonly size: number;
  readonly total: number;
  readonly free: number;
}

export function hugepageState(): HugepageState {
  const n = (k: string) => meminfoKb(k) ?? 0;
  return { size: defaultHugePageSize(), total: n("HugePages_Total"), free: n("HugePages_Free") };
}

/** The skip reason when fewer than `need` huge pages are free, else undefined. */
export function hugepageShortage(need: number): string | undefined {
  const { size, free } = hugepageState();
  if (size === 0) return "no hugetlb page size on this kernel";
  return free < need ? `not enough HugeTLB pages (need ${need}, free ${free})` : undefined;
}

/**
 * Make sure at least `need` huge pages are free, raising nr_hugepages if
 * needed (root only). Dispose puts the old value back. Returns undefined
 * (nothing changed) when enough are already free.
 */
export function reserveHugepages(need: number): SettingChange | undefined {
  const st = hugepageState();
  if (st.free >= need) return undefined;
  const target = st.total + (need - st.free);
  const change = SettingChange.set(NR_HUGEPAGES, String(target));
  const after = hugepageState();
  if (after.free < need) {
    change.dispose();
    throw new Error(`could only get ${after.free} free huge pages of ${need} asked (nr_hugepages=${after.total})`);
  }
  return change;
}
