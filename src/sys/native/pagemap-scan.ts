// PAGEMAP_SCAN (Linux 6.7+): the ioctl on /proc/<pid>/pagemap that reports
// page categories for a range in bulk, and can write-protect the pages it
// matched (uffd-wp async mode). Layouts and numbers from include/uapi/linux/fs.h,
// declared once as tables like src/uffd/structs.ts.
import { Errno, lastErrno, SysError } from "../errno.ts";
import { close, O, open } from "../fd.ts";
import { libc } from "../libc.ts";
import { Scratch } from "../mem.ts";
import { IOC_DIR, ioc } from "../ioctl.ts";
import { getU64, setU64 } from "../u64.ts";

function u64Layout<F extends string>(...fields: F[]): { readonly size: number; readonly off: Readonly<Record<F, number>> } {
  return { size: fields.length * 8, off: Object.fromEntries(fields.map((f, i) => [f, i * 8])) as Record<F, number> };
}

/** struct pm_scan_arg: twelve u64 fields, 96 bytes. */
export const PM_SCAN_ARG = u64Layout(
  "size",
  "flags",
  "start",
  "end",
  "walk_end",
  "vec",
  "vec_len",
  "max_pages",
  "category_inverted",
  "category_mask",
  "category_anyof_mask",
  "return_mask",
);
/** struct page_region: [start, end) and the PAGE_IS_* categories of every page in it. */
export const PAGE_REGION = u64Layout("start", "end", "categories");

/** PAGEMAP_SCAN = _IOWR('f', 16, struct pm_scan_arg). */
export const PAGEMAP_SCAN = ioc(IOC_DIR.READWRITE, "f".charCodeAt(0), 16, PM_SCAN_ARG.size);

/** PAGE_IS_* category bits (pm_scan_arg masks, page_region.categories). */
export const PAGE_IS = {
  WPALLOWED: 1 << 0,
  WRITTEN: 1 << 1,
  FILE: 1 << 2,
  PRESENT: 1 << 3,
  SWAPPED: 1 << 4,
  PFNZERO: 1 << 5,
  HUGE: 1 << 6,
  SOFT_DIRTY: 1 << 7,
} as const;

/** pm_scan_arg.flags. */
export const PM_SCAN = {
  /** Write-protect the pages matched (uffd-wp async ranges only). */
  WP_MATCHING: 1 << 0,
  /** Fail (EPERM) where a page in the range is not in uffd-wp async mode. */
  CHECK_WPASYNC: 1 << 1,
} as const;

export interface PageRegion {
  readonly start: number;
  readonly end: number;
  readonly categories: number;
}

export interface ScanOptions {
  readonly start: number;
  readonly end: number;
  readonly flags?: number;
  readonly categoryInverted?: number;
  readonly categoryMask?: number;
  readonly categoryAnyofMask?: number;
  /** Categories reported in each region (and what splits regions). */
  readonly returnMask: number;
}

const MAX_REGIONS = 128;

/** This process's pagemap opened for PAGEMAP_SCAN. */
export class PagemapScanner {
  readonly fd: number;
  readonly #arg = new Scratch(PM_SCAN_ARG.size);
  readonly #vec = new Scratch(MAX_REGIONS * PAGE_REGION.size);

  constructor() {
    this.fd = open("/proc/self/pagemap", O.RDONLY | O.CLOEXEC);
  }

  /** All regions of [start, end) that match, walking on while the output array fills up. */
  scan(opts: ScanOptions): PageRegion[] {
    const out: PageRegion[] = [];
    const v = this.#arg.view;
    const o = PM_SCAN_ARG.off;
    let start = opts.start;
    while (start < opts.end) {
      this.#arg.bytes.fill(0);
      setU64(v, o.size, PM_SCAN_ARG.size);
      setU64(v, o.flags, opts.flags ?? 0);
      setU64(v, o.start, start);
      setU64(v, o.end, opts.end);
      setU64(v, o.vec, this.#vec.addr);
      setU64(v, o.vec_len, MAX_REGIONS);
      setU64(v, o.category_inverted, opts.categoryInverted ?? 0);
      setU64(v, o.category_mask, opts.categoryMask ?? 0);
      setU64(v, o.category_anyof_mask, opts.categoryAnyofMask ?? 0);
      setU64(v, o.return_mask, opts.returnMask);
      const n = libc.ioctl(this.fd, PAGEMAP_SCAN, this.#arg.addr);
      if (n < 0) throw new SysError("ioctl(PAGEMAP_SCAN)", lastErrno());
      const r = this.#vec.view;
      for (let i = 0; i < n; i++) {
        const at = i * PAGE_REGION.size;
        out.push({
          start: getU64(r, at + PAGE_REGION.off.start),
          end: getU64(r, at + PAGE_REGION.off.end),
          categories: getU64(r, at + PAGE_REGION.off.categories),
        });
      }
      const walkEnd = getU64(v, o.walk_end);
      if (walkEnd <= start) throw new SysError("ioctl(PAGEMAP_SCAN)", Errno.EIO, `walk stopped at 0x${walkEnd.toString(16)}`);
      start = walkEnd;
    }
    return out;
  }

  close(): void {
    close(this.fd);
    this.#arg.dispose();
    this.#vec.dispose();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Indexes of the pages (of `pageSize`, counted from `base`) that the regions cover. */
export function regionPages(regions: readonly PageRegion[], base: number, pageSize: number): number[] {
  const pages = new Set<number>();
  for (const r of regions) {
    for (let a = r.start - ((r.start - base) % pageSize); a < r.end; a += pageSize) pages.add((a - base) / pageSize);
  }
  return [...pages].sort((a, b) => a - b);
}
