// Hugetlb pages: what is free, and the one reservation policy every program
// uses (unit through hugepage-setup.ts, stress, run, wp-mremap): a change is
// made only with --setup and as root (mayChangeSettings), never more than half
// of the available memory, always as this run's own share on top of
// nr_hugepages, under the settings lock, taken off again afterwards (after
// success, failure, or a signal: restore.ts).
import { join } from "node:path";
import { hugetlbMapFlags, MADV, MAP, mmap, munmap, tryMadvise } from "../sys/mem.ts";
import { defaultHugePageSize, meminfoKb } from "../harness/memory.ts";
import { SettingChange } from "./restore.ts";
import { hugetlbDir, readCount } from "./sizes.ts";

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";

export interface HugepageState {
  /** Huge page size in bytes (0: none). */
  readonly size: number;
  readonly total: number;
  /** Free and not promised to a mapping: what a new mapping can still reserve (HugePages_Free - HugePages_Rsvd). */
  readonly free: number;
}

/** Whether this run may change machine settings: --setup (the default) was given and we are root. */
export function mayChangeSettings(setup = true): boolean {
  return setup && process.getuid?.() === 0;
}

/** The default huge page size's pool (/proc/meminfo), or the pool of pages of `size` bytes (sysfs). */
export function hugepageState(size?: number): HugepageState {
  if (size !== undefined) {
    const n = (k: string) => readCount(join(hugetlbDir(size), k));
    return { size, total: n("nr_hugepages"), free: Math.max(0, n("free_hugepages") - n("resv_hugepages")) };
  }
  const n = (k: string) => meminfoKb(k) ?? 0;
  return { size: defaultHugePageSize(), total: n("HugePages_Total"), free: Math.max(0, n("HugePages_Free") - n("HugePages_Rsvd")) };
}

/** The skip reason when fewer than `need` huge pages (of `size`, else the default size) are free, else undefined. */
export function hugepageShortage(need: number, size?: number): string | undefined {
  const { size: bytes, free } = hugepageState(size);
  if (bytes === 0) return "no hugetlb page size on this kernel";
  if (free >= need) return undefined;
  return size === undefined
    ? `not enough HugeTLB pages (need ${need}, free ${free})`
    : `not enough HugeTLB pages (need ${need} of ${size / 1024} KiB, free ${free})`;
}

/** The policy's limit: the pages asked would take more than half of MemAvailable (nothing was written). */
export class HugepageLimit extends Error {
  override readonly name = "HugepageLimit";
}

/** The kernel granted fewer huge pages than asked (what it did grant was given back). */
export class HugepageShortfall extends Error {
  override readonly name = "HugepageShortfall";
}

/**
 * This run's own `need` huge pages of `size` (default: the default size)
 * as root: that pool's nr_hugepages is raised by `need` on top of whatever
 * it is, under the settings lock, whatever is free (free pages may be
 * another run's); dispose takes exactly that share off again. Anyone else
 * may only use what is free: undefined when enough is, else an error.
 * Throws when more than half of MemAvailable would go to huge pages
 * (HugepageLimit), when
 * the kernel grants fewer (HugepageShortfall, giving back what it did), or
 * when the settings lock is not had (SettingsBusyError).
 */
export function reserveHugepages(need: number, size?: number): SettingChange | undefined {
  if (need <= 0) return undefined;
  if (process.getuid?.() !== 0) {
    const short = hugepageShortage(need, size);
    if (short) throw new Error(`${short}; raising nr_hugepages needs root`);
    return undefined;
  }
  // Unknown MemAvailable counts as 0: reserve nothing.
  const avail = (meminfoKb("MemAvailable") ?? 0) * 1024;
  if (need * (size ?? defaultHugePageSize()) > avail / 2) {
    throw new HugepageLimit(`not reserving ${need} huge pages: that is more than half of the ${Math.round(avail / 2 ** 20)} MiB available`);
  }
  const change = SettingChange.add(size === undefined ? NR_HUGEPAGES : join(hugetlbDir(size), "nr_hugepages"), need);
  const got = change.share ?? 0;
  if (got < need) {
    change.dispose();
    throw new HugepageShortfall(
      `could only get ${got} free huge pages of ${need} asked (nr_hugepages ${change.original} + ${got}, given back)`,
    );
  }
  return change;
}

/**
 * Fault in and drop one free hugetlb page of `size` bytes, so that the next
 * user finds it ready: the first touch of a gigantic page (1 GiB) in a
 * virtual machine waits for the host to back that memory (seconds here), a
 * later one does not. The page goes back to the free pool (the kernel clears
 * it again for its next user). Returns false when it could not be done
 * (no page, or no MADV_POPULATE_WRITE before Linux 5.14).
 */
export function warmHugepage(size: number): boolean {
  let addr = 0;
  try {
    addr = mmap(size, { flags: MAP.PRIVATE | MAP.ANONYMOUS | hugetlbMapFlags(size) });
    // The kernel faults it in (never JS: a fault that failed would be a SIGBUS here). Before 5.14: not warmed.
    return tryMadvise(addr, size, MADV.POPULATE_WRITE) === 0;
  } catch {
    return false;
  } finally {
    if (addr) munmap(addr, size);
  }
}
