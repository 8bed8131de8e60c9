// `uffd-suite bench`: µs per fault through the product's handler Worker,
// per kind of fault and handler mode, optionally against the C reference
// (bench/fault-bench.c) run alternately in the same process tree.
import { loadavg, release } from "node:os";
import { probeFeatures } from "../uffd/uffd.ts";
import { allowedCpus, pinAllThreads } from "./affinity.ts";
import { BunSide, type RunFigure } from "./bun-side.ts";
import { buildC, type CBuild, CBuildError, type CLoop, findCc, runC } from "./c-side.ts";
import { Faulter } from "./faulters.ts";
import { type BenchMem, type BenchMode, KIND_NAMES, type KindName, KINDS, type Scenario, scenarioLabel } from "./kinds.ts";
import { median, type Summary, summarize } from "./stats.ts";

export interface BenchOptions {
  readonly pages: number;
  /** Timed runs per case (with C: pairs of runs). */
  readonly runs: number;
  /** Untimed runs per case before the timed ones (each side). */
  readonly warmup: number;
  readonly kinds: readonly KindName[];
  readonly modes: readonly BenchMode[];
  readonly vsC: boolean;
  readonly cLoop: CLoop;
  /** Pin every thread (Bun's and C's) to this CPU. */
  readonly pin?: number;
  readonly scaling: boolean;
  /** Scaling table: faulting Workers and handler Workers to try. */
  readonly scaleFaulters: readonly number[];
  readonly scaleHandlers: readonly number[];
}

export const DEFAULTS: BenchOptions = {
  pages: 65_536,
  runs: 5,
  // The handler's JIT code settles after about three runs of 65,536 faults
  // (seen with BUN_JSC_reportCompileTimes): fewer, and compiles land in timed runs.
  warmup: 3,
  kinds: KIND_NAMES,
  modes: ["poll", "read"],
  vsC: false,
  cLoop: "selftest",
  scaling: false,
  scaleFaulters: [1, 2, 4],
  scaleHandlers: [1, 2],
};

export interface CaseResult {
  readonly kind: KindName;
  readonly mem: BenchMem;
  readonly mode: BenchMode;
  readonly faulters: number;
  readonly handlers: number;
  /** Wall µs per fault: the faulting Workers' span over the faults. */
  readonly bun: Summary;
  readonly c?: Summary;
  /** bun/c of wall µs per pair of runs, and their median (the figure the goals are about). */
  readonly ratios?: readonly number[];
  readonly ratio?: number;
  /** CPU µs per fault, all threads of the process (schedstat): less inflated by other load. */
  readonly bunCpu: Summary;
  readonly cCpu?: Summary;
  /** Median over pairs of bun/c CPU µs per fault. */
  readonly cpuRatio?: number;
}

export interface BenchReport {
  readonly pages: number;
  readonly pageSize: number;
  readonly runs: number;
  readonly warmup: number;
  readonly machine: {
    readonly kernel: string;
    readonly bun: string;
    readonly cpusAllowed: string;
    /** "taskset" when the process was started on one CPU, "--pin N", or "no". */
    readonly pinned: string;
    readonly loadStart: readonly number[];
    readonly loadEnd: readonly number[];
  };
  readonly c: { readonly cc: string; readonly loop: CLoop; readonly buildMs: number } | { readonly missing: string } | null;
  readonly cases: readonly CaseResult[];
  readonly skipped: readonly { readonly kind: KindName; readonly mem: BenchMem; readonly reason: string }[];
  readonly scaling: readonly CaseResult[];
  readonly workerStartMs: { readonly handler: Summary; readonly faulter: Summary };
}

export type Log = (line: string) => void;

function load(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Timed runs of one case, Bun alone or in pairs with C (the order alternating per pair). */
async function measure(bun: BunSide, c: CBuild | undefined, s: Scenario, o: BenchOptions): Promise<CaseResult> {
  for (let i = 0; i < o.warmup; i++) await bun.run(s);
  const b: RunFigure[] = [];
  const cs: RunFigure[] = [];
  // Each C run is a fresh process: one warm-up run there (C has no JIT to settle).
  const cOpts = { runs: 1, warmup: Math.min(1, o.warmup), loop: o.cLoop, cpu: o.pin };
  for (let i = 0; i < o.runs; i++) {
    if (c && i % 2 === 1) cs.push(...(await runC(c, s, cOpts)));
    b.push(await bun.run(s));
    if (c && i % 2 === 0) cs.push(...(await runC(c, s, cOpts)));
  }
  const base = {
    kind: s.kind,
    mem: s.mem,
    mode: s.mode,
    faulters: s.faulters,
    handlers: s.handlers,
    bun: summarize(b.map((x) => x.us)),
    bunCpu: summarize(b.map((x) => x.cpuUs)),
  };
  if (!c) return base;
  const ratios = b.map((x, i) => x.us / cs[i]!.us);
  return {
    ...base,
    c: summarize(cs.map((x) => x.us)),
    ratios,
    ratio: median(ratios),
    cCpu: summarize(cs.map((x) => x.cpuUs)),
    cpuRatio: median(b.map((x, i) => x.cpuUs / cs[i]!.cpuUs)),
  };
}

async function workerStarts(bun: BunSide, n: number): Promise<{ handler: Summary; faulter: Summary }> {
  const faulter: number[] = [];
  for (let i = 0; i < n; i++) {
    const { faulter: f, startMs } = await Faulter.start();
    faulter.push(startMs);
    f.terminate();
  }
  return { handler: summarize(await bun.handlerStartMs(n)), faulter: summarize(faulter) };
}

export async function runBench(o: BenchOptions, log: Log): Promise<BenchReport> {
  const loadStart = load();
  const allowed = allowedCpus();
  const pinned = o.pin !== undefined ? `--pin ${o.pin}` : /^\d+$/.test(allowed) ? `taskset (cpu ${allowed})` : "no";
  if (o.pin !== undefined && pinAllThreads(o.pin) === 0) throw new Error(`cannot pin to cpu ${o.pin} (cpus allowed: ${allowed})`);

  let cInfo: BenchReport["c"] = null;
  let c: CBuild | undefined;
  if (o.vsC) {
    const cc = findCc();
    if (!cc) {
      cInfo = { missing: "no C compiler (cc) found: Bun figures only" };
      log(`# ${cInfo.missing}`);
    } else {
      try {
        c = buildC(cc);
        cInfo = { cc, loop: o.cLoop, buildMs: Math.round(c.buildMs) };
      } catch (e) {
        if (!(e instanceof CBuildError)) throw e;
        cInfo = { missing: `${e.message}: Bun figures only` };
        log(`# ${cInfo.missing}`);
      }
    }
  }

  const features = probeFeatures();
  const bun = new BunSide({ pin: o.pin });
  const cases: CaseResult[] = [];
  const skipped: { kind: KindName; mem: BenchMem; reason: string }[] = [];
  const scaling: CaseResult[] = [];
  try {
    for (const kindName of o.kinds) {
      const kind = KINDS[kindName];
      for (const mem of kind.mems) {
        const lacking = features.missing(kind.features(mem));
        if (lacking.length > 0) {
          skipped.push({ kind: kindName, mem, reason: `feature missing: ${lacking.join(", ")}` });
          log(`# skip ${kindName} ${mem}: feature missing: ${lacking.join(", ")}`);
          continue;
        }
        for (const mode of o.modes) {
          const s: Scenario = { kind: kindName, mem, mode, pages: o.pages, faulters: 1, handlers: 1 };
          const r = await measure(bun, c, s, o);
          cases.push(r);
          log(
            `# ${scenarioLabel(s)}: bun ${r.bun.median.toFixed(2)} µs${r.c ? `, c ${r.c.median.toFixed(2)} µs, bun/c ${r.ratio!.toFixed(2)}` : ""}`,
          );
        }
      }
    }
    if (o.scaling) {
      for (const handlers of o.scaleHandlers) {
        for (const faulters of o.scaleFaulters) {
          const s: Scenario = { kind: "missing+copy", mem: "anon", mode: "poll", pages: o.pages, faulters, handlers };
          const r = await measure(bun, c, s, o);
          scaling.push(r);
          log(
            `# scaling ${faulters} faulters / ${handlers} handlers: bun ${r.bun.median.toFixed(2)} µs${r.c ? `, c ${r.c.median.toFixed(2)} µs` : ""}`,
          );
        }
      }
    }
    const workerStartMs = await workerStarts(bun, 5);
    return {
      pages: o.pages,
      pageSize: 4096,
      runs: o.runs,
      warmup: o.warmup,
      machine: { kernel: release(), bun: Bun.version, cpusAllowed: allowed, pinned, loadStart, loadEnd: load() },
      c: cInfo,
      cases,
      skipped,
      scaling,
      workerStartMs,
    };
  } finally {
    await bun.dispose();
    c?.dispose();
  }
}
