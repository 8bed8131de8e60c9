// Sizing a stress run: groups, pages per group, memory needed. A size this
// machine cannot take is one line naming it (StressInputError), found before
// anything on the system changes. (The values themselves are checked in
// cli/values.ts.)
import { hugepageState } from "../machine/hugepages.ts";
import { meminfoKb, type MemoryType, pageSizeOf } from "../harness/memory.ts";
import { libc } from "../sys/libc.ts";

export class StressInputError extends Error {
  override readonly name = "StressInputError";
}

export interface StressGeometry {
  readonly groups: number;
  readonly pageSize: number;
  readonly pagesPerGroup: number;
  /** pagesPerGroup x groups: the C rounds the area down to whole slices. */
  readonly pages: number;
}

const MiB = 1024 * 1024;
const MAX_GROUPS = 32;
const _SC_NPROCESSORS_ONLN = 84;

/** The C's thread groups: one per online CPU, at most 32. */
export function defaultGroups(): number {
  const n = libc.sysconf(_SC_NPROCESSORS_ONLN);
  return Math.max(1, Math.min(n > 0 ? n : 1, MAX_GROUPS));
}

/** Unknown: no limit. */
function memAvailableBytes(): number {
  return (meminfoKb("MemAvailable") ?? Number.POSITIVE_INFINITY) * 1024;
}

function size(bytes: number): string {
  return bytes >= MiB ? `${+(bytes / MiB).toFixed(1)} MiB` : `${bytes / 1024} KiB`;
}

/**
 * Size a run of `mib` MiB on `mem`, or throw StressInputError: too small for
 * one page per group, or more than this machine has. Returns undefined when
 * the memory type has no page size here (hugetlb without huge pages: a skip,
 * not bad input).
 */
export function stressGeometry(mem: MemoryType, mib: number, groups = defaultGroups()): StressGeometry | undefined {
  const pageSize = pageSizeOf(mem);
  if (pageSize === 0) return undefined;
  const bytes = mib * MiB;
  const pagesPerGroup = Math.floor(bytes / pageSize / groups);
  if (pagesPerGroup === 0) {
    throw new StressInputError(
      `size ${mib} MiB is too small: ${groups} groups need a ${size(pageSize)} page each (at least ${size(groups * pageSize)})`,
    );
  }
  const pages = pagesPerGroup * groups;
  const avail = memAvailableBytes();
  if (mem.hugetlb) {
    // Source and destination each fill `pages` huge pages.
    const need = 2 * pages;
    const { free } = hugepageState();
    const canAdd = Math.floor(avail / pageSize);
    if (need > free + canAdd) {
      throw new StressInputError(
        `size ${mib} MiB is too large: needs ${need} huge pages of ${size(pageSize)} (source and destination), ` +
          `${free} free and memory for about ${canAdd} more`,
      );
    }
  } else if (2 * pages * pageSize > avail) {
    throw new StressInputError(
      `size ${mib} MiB is too large: source and destination need ${size(2 * pages * pageSize)}, ${size(avail)} available`,
    );
  }
  return { groups, pageSize, pagesPerGroup, pages };
}
