// Hugetlb pages: what is free, and a scoped reservation that puts
// nr_hugepages back afterwards (after success, failure, or a signal).
import { defaultHugePageSize, meminfoKb } from "./memory.ts";
import { SettingChange } from "./restore.ts";

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";

export interface HugepageState {
  /** Default huge page size in bytes (0: none). */
  readonly size: number;
  readonly total: number;
  /** Free and not promised to a mapping: what a new mapping can still reserve (HugePages_Free - HugePages_Rsvd). */
  readonly free: number;
}

export function hugepageState(): HugepageState {
  const n = (k: string) => meminfoKb(k) ?? 0;
  return { size: defaultHugePageSize(), total: n("HugePages_Total"), free: Math.max(0, n("HugePages_Free") - n("HugePages_Rsvd")) };
}

/** The skip reason when fewer than `need` huge pages are free, else undefined. */
export function hugepageShortage(need: number): string | undefined {
  const { size, free } = hugepageState();
  if (size === 0) return "no hugetlb page size on this kernel";
  return free < need ? `not enough HugeTLB pages (need ${need}, free ${free})` : undefined;
}

/**
 * This run's own `need` huge pages (root): nr_hugepages is raised by `need`
 * on top of whatever it is, under the settings lock, whatever is free (free
 * pages may be another run's); dispose takes exactly that share off again.
 * Anyone else may only use what is free: undefined when enough is, else
 * an error. Throws when the kernel grants fewer (giving back what it did),
 * or the settings lock is not had (SettingsBusyError).
 */
export function reserveHugepages(need: number): SettingChange | undefined {
  if (need <= 0) return undefined;
  if (process.getuid?.() !== 0) {
    const short = hugepageShortage(need);
    if (short) throw new Error(`${short}; raising nr_hugepages needs root`);
    return undefined;
  }
  const change = SettingChange.add(NR_HUGEPAGES, need);
  const got = change.share ?? 0;
  if (got < need) {
    change.dispose();
    throw new Error(`could only get ${got} free huge pages of ${need} asked (nr_hugepages ${change.original} + ${got}, given back)`);
  }
  return change;
}
