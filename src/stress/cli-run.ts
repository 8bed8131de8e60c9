// The stress command's flow, shared by `uffd-suite stress` and `uffd-suite
// run`: size the run, run it, and name its result.
import type { MemoryType } from "../harness/memory.ts";
import { plantNames } from "../plants.ts";
import { defaultGroups, type StressGeometry, stressGeometry } from "./geometry.ts";
import { runStress, STRESS_PLANTS, type StressOutcome, type StressPlant } from "./stress.ts";

export interface StressRequest {
  readonly mem: MemoryType;
  readonly mib: number;
  readonly bounces: number;
  readonly wp: boolean;
  readonly eexistIntervalS: number;
  /** undefined: this memory type has no page size here (a skip). */
  readonly geometry: StressGeometry | undefined;
}

/** The C's interval between deliberate repeat copies. */
export const EEXIST_INTERVAL_S = 10;

/** Size the run before anything changes; throws StressInputError for a size this machine cannot take. */
export function stressRequest(v: { mem: MemoryType; mib: number; bounces: number; wp: boolean; eexistIntervalS: number }): StressRequest {
  return { ...v, geometry: stressGeometry(v.mem, v.mib, defaultGroups()) };
}

/** `stress anon 128 32`: the result name (no '#'). */
export function stressName(r: { mem: MemoryType; mib: number; bounces: number }): string {
  return `stress ${r.mem.name} ${r.mib} ${r.bounces}`;
}

/** Test-only plants from UFFD_SUITE_PLANT (comma list); never in help. */
export function plantsFromEnv(env: Record<string, string | undefined> = process.env): Set<StressPlant> {
  const out = new Set<StressPlant>();
  for (const p of plantNames(env)) {
    if ((STRESS_PLANTS as readonly string[]).includes(p)) out.add(p as StressPlant);
  }
  return out;
}

export interface StressRunIo {
  /** A diagnostic line, without the "# ". */
  readonly note: (line: string) => void;
  /** Progress for a terminal, or undefined. */
  readonly progress?: (done: number, total: number, line: string) => void;
  readonly plant?: ReadonlySet<StressPlant>;
  /** Raise nr_hugepages when needed (default true). */
  readonly reserve?: boolean;
}

export async function executeStress(req: StressRequest, io: StressRunIo): Promise<StressOutcome> {
  if (!req.geometry) {
    return {
      status: "skip",
      reason: "no hugetlb page size on this kernel",
      totals: { missing: 0, wp: 0, eexist: 0, locks: 0, bounces: 0 },
      seconds: 0,
    };
  }
  try {
    return await runStress({
      mem: req.mem,
      geometry: req.geometry,
      bounces: req.bounces,
      wp: req.wp,
      eexistIntervalS: req.eexistIntervalS,
      plant: io.plant,
      note: io.note,
      progress: io.progress,
      reserve: io.reserve,
    });
  } catch (e) {
    return {
      status: "fail",
      reason: e instanceof Error ? e.message : String(e),
      totals: { missing: 0, wp: 0, eexist: 0, locks: 0, bounces: 0 },
      seconds: 0,
    };
  }
}

/** A one-line progress display on a terminal stream (stderr). */
export function terminalProgress(stream: NodeJS.WriteStream, label: string) {
  let shown = false;
  return {
    update(done: number, total: number, line: string): void {
      const text = `${label}: ${done}/${total} ${line}`;
      const cols = stream.columns ?? 100;
      stream.write(`\r\u001b[K${text.length >= cols ? `${text.slice(0, cols - 2)}…` : text}`);
      shown = true;
    },
    clear(): void {
      if (shown) stream.write("\r\u001b[K");
      shown = false;
    },
  };
}
