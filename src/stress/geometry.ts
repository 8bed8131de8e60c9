// Checking the stress command's input and sizing the run: groups, pages per
// group, memory needed. Every problem is one line naming it (StressInputError),
// found before anything on the system changes.
import { hugepageState } from "../machine/hugepages.ts";
import { MEMORY_NAMES, meminfoKb, type MemoryType, memoryType, pageSizeOf } from "../harness/memory.ts";
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

export function parseMemory(raw: string): MemoryType {
  if (!(MEMORY_NAMES as readonly string[]).includes(raw)) {
    throw new StressInputError(`unknown memory type '${raw}' (expected one of ${MEMORY_NAMES.join(", ")})`);
  }
  return memoryType(raw);
}

function wholeNumber(what: string, raw: string): number {
  if (!/^[0-9]+$/.test(raw)) throw new StressInputError(`${what} must be a whole number, got '${raw}'`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new StressInputError(`${what} ${raw} is too large`);
  return n;
}

export function parseMiB(raw: string): number {
  if (!/^[0-9]+$/.test(raw)) throw new StressInputError(`size must be a whole number of MiB, got '${raw}'`);
  const n = Number(raw);
  if (n <= 0) throw new StressInputError(`size must be at least 1 MiB, got '${raw}'`);
  if (!Number.isSafeInteger(n * MiB)) throw new StressInputError(`size ${raw} MiB is too large`);
  return n;
}

export function parseBounces(raw: string): number {
  const n = wholeNumber("bounces", raw);
  if (n <= 0) throw new StressInputError(`bounces must be at least 1, got '${raw}'`);
  if (n > 0x7fffffff) throw new StressInputError(`bounces ${raw} is too large (at most ${0x7fffffff})`);
  return n;
}

export function parseSeconds(what: string, raw: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(raw)) throw new StressInputError(`${what} must be a number of seconds, got '${raw}'`);
  const n = Number(raw);
  if (n > 86_400) throw new StressInputError(`${what} ${raw} is too large (at most 86400 s)`);
  return n;
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
