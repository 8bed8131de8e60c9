// uffd-wp-mremap: a write-protected folio moved with mremap() by a process
// whose userfaultfd lacks EVENT_REMAP must lose its uffd-wp bits. For the base
// page, every THP size (shmem shared, anon private) and every hugetlb size,
// each with and without swap-out, as the kernel's uffd-wp-mremap.c.
import { InterruptedError, interrupted } from "../machine/signals.ts";
import { Errno, errnoName, SysError } from "../sys/errno.ts";
import { MADV, MAP, MREMAP, mremap, munmap, PAGE_SIZE, PROT, tryMadvise } from "../sys/mem.ts";
import { decodePagemap, Pagemap, PAGEMAP } from "../sys/native/pagemap.ts";
import type { ResultSink, Status } from "../report/result.ts";
import { UffdPermissionError } from "../uffd/errors.ts";
import { Uffd, probeFeatures } from "../uffd/uffd.ts";
import { allocOneFolio, type FolioSpec, mmapAligned } from "./folio.ts";
import { Changes, disableAllThp } from "../machine/changes.ts";
import { HugepageShortfall, hugepageShortage, mayChangeSettings, reserveHugepages } from "../machine/hugepages.ts";
import { hugetlbSizes, thpSizes } from "../machine/sizes.ts";

export interface FolioCase extends FolioSpec {
  readonly swapout: boolean;
}

export function caseName(c: FolioCase): string {
  return `test_one_folio(size=${c.size}, private=${c.private}, swapout=${c.swapout}, hugetlb=${c.hugetlb})`;
}

/** The C's order: base pages, THP sizes, hugetlb sizes; within each, rows of (private, swapout). */
export function planCases(sizes: { thp: readonly number[]; hugetlb: readonly number[] }): FolioCase[] {
  const rows = (list: readonly number[], hugetlb: boolean, combos: Array<[boolean, boolean]>) =>
    combos.flatMap(([priv, swapout]) => list.map((size) => ({ size, private: priv, swapout, hugetlb })));
  const four: Array<[boolean, boolean]> = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];
  return [
    ...rows([PAGE_SIZE], false, four),
    ...rows(sizes.thp, false, four),
    ...rows(sizes.hugetlb, true, [
      [false, false],
      [true, false],
    ]),
  ];
}

/** The memory type a folio lives in: a private mapping is anon (hugetlb-private), a shared one shmem (hugetlb). */
export function folioMemory(c: FolioCase): string {
  if (c.hugetlb) return c.private ? "hugetlb-private" : "hugetlb";
  return c.private ? "anon" : "shmem";
}

export interface Outcome {
  readonly status: Status;
  /** skip: why. */
  readonly reason?: string;
  readonly diagnostics: string[];
}

export interface Plant {
  /** Leave the folio unprotected: the "set before mremap" check must fail. */
  readonly noWriteProtect?: boolean;
  /** Do not move the folio: the "clear after mremap" check must fail. */
  readonly noMremap?: boolean;
}

/** Every page's uffd-wp bit must be `expect`; the first page that differs, if any. */
function wpState(pm: Pagemap, mem: number, size: number, expect: boolean): string | undefined {
  const entries = pm.range(mem, size);
  const bad = entries.findIndex((e) => decodePagemap(e).uffdWp !== expect);
  if (bad < 0) return undefined;
  return `uffd-wp not ${expect ? "set" : "clear"} for pte ${bad} (entry 0x${entries[bad]!.toString(16)})`;
}

/** One test_one_folio. */
export function testOneFolio(c: FolioCase, pm: Pagemap, plant: Plant = {}): Outcome {
  const diagnostics: string[] = [];
  const fail = (why: string): Outcome => ({ status: "fail", diagnostics: [...diagnostics, why] });
  const alloc = allocOneFolio(c, pm);
  if (!alloc.ok) return fail(`alloc_one_folio() failed: ${alloc.why}`);
  let mem = alloc.addr;
  let uffd: Uffd | undefined;
  try {
    try {
      // No features: in particular no EVENT_REMAP.
      uffd = Uffd.create({ features: [] });
    } catch (e) {
      if (e instanceof SysError && e.errno === Errno.ENOENT) return { status: "skip", reason: "userfaultfd not available", diagnostics };
      return fail(`userfaultfd_open() failed: ${(e as Error).message}`);
    }
    const range = { start: mem, len: c.size };
    try {
      uffd.register(range, { wp: true });
    } catch (e) {
      return fail(`uffd_register() failed: ${(e as Error).message}`);
    }
    if (!plant.noWriteProtect) {
      try {
        uffd.writeProtect(range, { wp: true });
      } catch (e) {
        return fail(`ioctl(UFFDIO_WRITEPROTECT) failed: ${(e as Error).message}`);
      }
    }
    if (c.swapout) {
      const err = tryMadvise(mem, c.size, MADV.PAGEOUT);
      if (err) diagnostics.push(`MADV_PAGEOUT: ${errnoName(err)}`);
      const entries = pm.range(mem, c.size);
      const resident = entries.findIndex((e) => (e & PAGEMAP.SWAPPED) === 0n);
      if (resident >= 0) {
        return {
          status: "skip",
          reason: "no swap: MADV_PAGEOUT did not swap the page out",
          diagnostics: [...diagnostics, `page ${resident} not swapped (entry 0x${entries[resident]!.toString(16)})`],
        };
      }
    }
    const before = wpState(pm, mem, c.size, true);
    if (before) return fail(before);

    // Move it to a new aligned place. Without EVENT_REMAP the bits must go.
    if (!plant.noMremap) {
      const to = mmapAligned(c.size, PROT.NONE, MAP.PRIVATE | MAP.ANONYMOUS);
      try {
        mremap(mem, c.size, c.size, { flags: MREMAP.FIXED | MREMAP.MAYMOVE, to });
      } catch (e) {
        munmap(to, c.size);
        return fail(`mremap() failed: ${(e as Error).message}`);
      }
      mem = to;
    }
    const after = wpState(pm, mem, c.size, false);
    if (after) return fail(after);
    return { status: "pass", diagnostics };
  } finally {
    munmap(mem, c.size);
    uffd?.close();
  }
}

export interface WpMremapOptions {
  /** Where the plan, notes and results go. */
  readonly sink: ResultSink;
  readonly plant?: Plant;
  /** Only cases whose name contains this. */
  readonly filter?: string;
  /** Change THP knobs and nr_hugepages (default true); without, THP cases skip and hugetlb uses free pages. */
  readonly setup?: boolean;
  /** Hugetlb page sizes of which this run holds one page already (reserved by a helper process): not reserved again. */
  readonly held?: ReadonlySet<number>;
}

/**
 * The whole program (plan, settings, cases, restore; results into `sink`),
 * giving the event loop a turn between cases, so a signal is handled within
 * one case's time; once one has come, no further case runs
 * (the settings are put back and InterruptedError is thrown). `pauseMs`
 * (tests only) waits that long between cases, to interrupt one mid-run.
 */
export async function runWpMremapAsync(opts: WpMremapOptions & { readonly pauseMs?: number }): Promise<void> {
  const steps = wpMremapSteps(opts);
  try {
    for (;;) {
      if (steps.next().done) return;
      await new Promise<void>((resolve) => (opts.pauseMs ? setTimeout(resolve, opts.pauseMs) : setImmediate(resolve)));
      const sig = interrupted();
      if (sig) throw new InterruptedError(`interrupted by ${sig}`);
    }
  } finally {
    steps.return();
  }
}

/** The program as steps: it yields after each case. */
function* wpMremapSteps(opts: WpMremapOptions): Generator<void, void, void> {
  const sizes = { thp: thpSizes(), hugetlb: hugetlbSizes() };
  const cases = planCases(sizes).filter((c) => !opts.filter || caseName(c).includes(opts.filter));
  const sink = opts.sink;
  sink.plan(cases.length);
  for (const s of sizes.thp) sink.note(`[INFO] detected THP size: ${s / 1024} KiB`);
  for (const s of sizes.hugetlb) sink.note(`[INFO] detected hugetlb page size: ${s / 1024} KiB`);

  let allSkip: string | undefined;
  try {
    if (!probeFeatures().has("PAGEFAULT_FLAG_WP")) allSkip = "feature missing: PAGEFAULT_FLAG_WP";
  } catch (e) {
    // "no permission to create a userfaultfd (needs root, ...)" says it all.
    allSkip = e instanceof UffdPermissionError ? e.message : `userfaultfd not available: ${(e as Error).message}`;
  }

  const changes = new Changes();
  const hugetlbSkip = new Map<number, string>();
  let thpSkip: string | undefined;
  const pm = allSkip ? undefined : new Pagemap();
  const setup = opts.setup ?? true;
  // Only root changes settings; anyone else gets skips naming why, and nothing written.
  const root = process.getuid?.() === 0;
  try {
    if (!allSkip) {
      if (!setup) thpSkip = "THP sizes not switched on (--no-setup)";
      else if (!root) thpSkip = "THP sizes not switched on (changing THP settings needs root)";
      else if (cases.some((c) => !c.hugetlb && c.size > PAGE_SIZE)) {
        try {
          disableAllThp(changes);
        } catch (e) {
          thpSkip = `cannot change THP settings: ${(e as Error).message}`;
        }
      }
      for (const size of new Set(cases.filter((c) => c.hugetlb).map((c) => c.size))) {
        const why = mayChangeSettings(setup) && !opts.held?.has(size) ? reserveOneHugetlbPage(size, changes) : hugepageShortage(1, size);
        if (why) hugetlbSkip.set(size, why);
      }
    }
    for (const c of cases) {
      const name = caseName(c);
      const named = { name, part: "wp-mremap", memory: folioMemory(c) } as const;
      const run = `[RUN] ${name}`;
      const skip = allSkip ?? (c.hugetlb ? hugetlbSkip.get(c.size) : c.size > PAGE_SIZE ? thpSkip : undefined);
      if (skip) {
        sink.result({ ...named, status: "skip", reason: skip, diagnostics: [run] });
        yield;
        continue;
      }
      let r: Outcome;
      try {
        r = testOneFolio(c, pm!, opts.plant);
      } catch (e) {
        r = { status: "fail", diagnostics: [(e as Error).message] };
      }
      sink.result({ ...named, status: r.status, reason: r.reason, diagnostics: [run, ...r.diagnostics] });
      yield;
    }
  } finally {
    pm?.close();
    changes.dispose();
  }
}

/**
 * One hugetlb page of `size` for this run (the one policy: this run's share
 * on top, given back afterwards). Where the kernel grants none (a size it
 * cannot allocate now, like 1 GiB pages set aside at boot), a page already
 * free will do. Returns the skip reason when none can be had.
 */
function reserveOneHugetlbPage(size: number, into: Changes): string | undefined {
  try {
    into.add(reserveHugepages(1, size));
  } catch (e) {
    if (!(e instanceof HugepageShortfall)) {
      return `not enough HugeTLB pages (need 1 of ${size / 1024} KiB; could not reserve one for this run: ${(e as Error).message})`;
    }
  }
  return hugepageShortage(1, size);
}
