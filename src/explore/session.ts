// One sequence end to end: a fresh rig and model, the checker over every
// operation, and a clean end (an access left asleep in a fault is woken by
// closing the userfaultfd before anything is unmapped).
import { hugepageShortage } from "../machine/hugepages.ts";
import { type MemoryType, pageSizeOf } from "../harness/memory.ts";
import { mmap, munmap, PAGE_SIZE } from "../sys/mem.ts";
import { childPagemap } from "../sys/native/child.ts";
import { poisonScan } from "../sys/native/faults.ts";
import { Pagemap } from "../sys/native/pagemap.ts";
import { PAGE_IS, PagemapScanner } from "../sys/native/pagemap-scan.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import { CONTINUE_MODE, type FeatureName, WRITEPROTECT_MODE } from "../uffd/constants.ts";
import { Errno } from "../sys/errno.ts";
import { Checker, Divergence } from "./check.ts";
import { Model } from "./model.ts";
import { MODE_BITS, opText, type Sequence } from "./ops.ts";
import type { ExplorePlants } from "./plants.ts";
import { Rig } from "./rig.ts";
import { Toucher } from "./toucher.ts";

export interface Target {
  readonly mem: MemoryType;
  readonly pages: number;
  readonly pageSize: number;
  readonly kernel: FeatureSet;
  /** The errno a registration in each mode bit gets here, or undefined where it works (probed). */
  readonly refusedModes: Readonly<Record<number, string | undefined>>;
  /** PAGEMAP_SCAN works on this kernel (probed). */
  readonly pagemapScan: boolean;
  /** CONTINUE takes MODE_WP (older kernels refuse the bit: EINVAL). */
  readonly continueWp: boolean;
  /** WRITEPROTECT walks a range over several mappings (older kernels want one: ENOENT). */
  readonly wpAcrossMappings: boolean;
  /** Why the native helpers (fork child, SIGBUS-safe reads) cannot run here, if they cannot. */
  readonly noNative?: string;
}

/**
 * The native helpers (compiled at run time) run here? fork's child and the
 * SIGBUS-safe reader of possibly poisoned pages need them; without them
 * (no libc.so to link against) fork and POISON are not drawn.
 */
async function probeNative(): Promise<string | undefined> {
  const page = mmap(PAGE_SIZE);
  try {
    poisonScan({ dst: page, pages: 1, pageSize: PAGE_SIZE });
    await childPagemap(page, { timeoutMs: 10_000 });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    munmap(page, PAGE_SIZE);
  }
}

/** Pages per explored area: few, so random ranges meet each other often. */
export function areaPages(mem: MemoryType): number {
  return mem.hugetlb ? 4 : 8;
}

/** Huge pages a hugetlb exploration needs: the area, plus copies a private mapping makes after fork. */
export function hugepagesNeeded(mem: MemoryType): number {
  return mem.hugetlb ? 3 * areaPages(mem) + 1 : 0;
}

export async function makeTarget(mem: MemoryType, kernel: FeatureSet): Promise<Target> {
  const pages = areaPages(mem);
  const pageSize = pageSizeOf(mem);
  const refusedModes: Record<number, string | undefined> = {};
  const rig = new Rig({ mem, pages: 2, pageSize, features: [] });
  let continueWp = false;
  let wpAcrossMappings = false;
  try {
    // An unknown mode bit is refused before the range is looked at: ENOENT here means MODE_WP is known.
    continueWp = rig.uffd.tryContinue(rig.base, pageSize, CONTINUE_MODE.WP) === -Errno.ENOENT;
    try {
      // Two mappings (different modes), both WP-registered; one WRITEPROTECT over both.
      rig.uffd.registerMode({ start: rig.base, len: pageSize }, MODE_BITS.wp | MODE_BITS.missing);
      rig.uffd.registerMode({ start: rig.base + pageSize, len: pageSize }, MODE_BITS.wp);
      wpAcrossMappings = rig.uffd.tryWriteProtect(rig.base, 2 * pageSize, WRITEPROTECT_MODE.WP) === 0;
      rig.uffd.unregister({ start: rig.base, len: 2 * pageSize });
    } catch {
      // No WP registration here: the question does not arise.
    }
    for (const bit of Object.values(MODE_BITS)) {
      try {
        rig.uffd.registerMode({ start: rig.base, len: pageSize }, bit);
        rig.uffd.unregister({ start: rig.base, len: pageSize });
      } catch (e) {
        refusedModes[bit] = (e as { code?: string }).code ?? "EINVAL";
      }
    }
  } finally {
    rig.dispose();
  }
  const noNative = await probeNative();
  return {
    mem,
    pages,
    pageSize,
    kernel,
    refusedModes,
    pagemapScan: probePagemapScan(),
    continueWp,
    wpAcrossMappings,
    ...(noNative ? { noNative } : {}),
  };
}

function probePagemapScan(): boolean {
  try {
    const s = new PagemapScanner();
    try {
      s.scan({ start: 0, end: 0x1000, returnMask: PAGE_IS.WRITTEN });
      return true;
    } finally {
      s.close();
    }
  } catch {
    return false;
  }
}

export interface SequenceResult {
  readonly ops: number;
  /** Known findings stepped around: name -> times. */
  readonly known: ReadonlyMap<string, number>;
  readonly divergence?: { readonly step: number; readonly text: string };
}

let toucher: Toucher | undefined;
let pagemap: Pagemap | undefined;
let scanner: PagemapScanner | undefined;

export async function runSequence(
  t: Target,
  seq: Sequence,
  plants: ExplorePlants,
  opts: { stepAround?: boolean; waitMs?: number } = {},
): Promise<SequenceResult> {
  const waitMs = opts.waitMs ?? 500;
  if (t.mem.hugetlb) {
    // Another run that takes the huge pages back would turn our next fault into a SIGBUS: stop first.
    const short = hugepageShortage(2 * t.pages);
    if (short) throw new Error(`ENOMEM: huge pages ran out (${short})`);
  }
  toucher ??= await Toucher.start();
  pagemap ??= new Pagemap();
  const features = seq.features.filter((f) => t.kernel.has(f)) as FeatureName[];
  const rig = new Rig({ mem: t.mem, pages: t.pages, pageSize: t.pageSize, features });
  const has = (f: FeatureName) => features.includes(f);
  const model = new Model(
    t.pages,
    {
      shared: t.mem.fileBacked && t.mem.hasAlias,
      hugetlb: t.mem.hugetlb,
      anon: !t.mem.fileBacked,
      // WP_ASYNC brings WP_UNPOPULATED with it.
      markers: t.mem.fileBacked || has("WP_UNPOPULATED") || has("WP_ASYNC"),
      wpAsync: has("WP_ASYNC"),
      wpAcrossMappings: t.wpAcrossMappings,
    },
    t.pageSize,
  );
  const checker = new Checker({
    rig,
    model,
    toucher,
    plants,
    pagemap,
    waitMs,
    stepAround: opts.stepAround ?? true,
    refused: (m) => {
      for (const bit of Object.values(MODE_BITS)) if (m & bit && t.refusedModes[bit]) return t.refusedModes[bit];
      return undefined;
    },
    events: { remove: has("EVENT_REMOVE"), remap: has("EVENT_REMAP"), unmap: has("EVENT_UNMAP") },
    threadId: has("THREAD_ID"),
    wpUnpopulated: has("WP_UNPOPULATED") || has("WP_ASYNC"),
    continueWp: t.continueWp,
    scanner: t.pagemapScan ? (scanner ??= new PagemapScanner()) : undefined,
  });
  let step = 0;
  let result: SequenceResult;
  try {
    for (const op of seq.ops) {
      step++;
      await checker.run(op);
    }
    result = { ops: checker.ops, known: checker.known };
  } catch (e) {
    if (!(e instanceof Divergence)) {
      finish(rig);
      throw new Error(`step ${step} (${opText(seq.ops[step - 1]!)}): ${(e as Error).message}`);
    }
    result = { ops: checker.ops, known: checker.known, divergence: { step, text: e.message } };
  }
  if (!finish(rig)) {
    const text = "the access never came back, even after the userfaultfd was closed";
    return {
      ops: checker.ops,
      known: checker.known,
      divergence: result.divergence ? { ...result.divergence, text: `${result.divergence.text}; ${text}` } : { step, text },
    };
  }
  return result;
}

/**
 * Close the uffd (waking an access still asleep), wait for the toucher, then
 * unmap. false: the toucher is stuck inside the area; the area is left
 * mapped (unmapping it under the Worker would crash the process) and the
 * next sequence gets a new toucher.
 */
function finish(rig: Rig): boolean {
  const t = toucher!;
  if (t.busy) {
    rig.uffd.close();
    if (t.wait(-1, 5000).type !== "done") {
      toucher = undefined;
      return false;
    }
  }
  rig.dispose();
  return true;
}

export function stopToucher(): void {
  toucher?.stop();
  toucher = undefined;
  pagemap?.close();
  pagemap = undefined;
  scanner?.close();
  scanner = undefined;
}
