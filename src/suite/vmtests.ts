// The userfaultfd part of run_vmtests.sh as one result stream: the unit
// catalogue, uffd-stress on every memory type at run_vmtests' sizes, and
// uffd-wp-mremap. Each part's runner writes into a section of the run's sink
// (its own plan dropped), so the results are numbered as one run with one
// plan and one totals line.
import { hugepageState, mayChangeSettings, reserveHugepages } from "../machine/hugepages.ts";
import { MEMORY, type MemoryName, pageSizeOf } from "../harness/memory.ts";
import type { SettingChange } from "../machine/restore.ts";
import { InterruptedError, interrupted } from "../machine/signals.ts";
import { type ResultSink, section } from "../report/result.ts";
import { EEXIST_INTERVAL_S, executeStress, stressName, type StressRequest } from "../stress/cli-run.ts";
import { defaultGroups, StressInputError, stressGeometry } from "../stress/geometry.ts";
import type { StressOutcome } from "../stress/stress.ts";
import { allCases, planCases as planUnit } from "../unit/plan.ts";
import { runUnit } from "../unit/runner.ts";
import { planCases as planWpMremap, runWpMremapAsync } from "../wp-mremap/run.ts";
import { hugetlbSizes, thpSizes } from "../machine/sizes.ts";
import { type HugepageHold, holdHugepage } from "./hugepage-hold.ts";
import { type RowOutcome, stressInChild } from "./side-run.ts";

/** run_vmtests.sh: `uffd-stress anon 20 16`, `hugetlb H 32`, `hugetlb-private H 32`, `shmem 20 16`, `shmem-private 20 16`. */
export const VMTESTS_STRESS: ReadonlyArray<{ mem: MemoryName; mib: number | "H"; bounces: number }> = [
  { mem: "anon", mib: 20, bounces: 16 },
  { mem: "hugetlb", mib: "H", bounces: 32 },
  { mem: "hugetlb-private", mib: "H", bounces: 32 },
  { mem: "shmem", mib: 20, bounces: 16 },
  { mem: "shmem-private", mib: 20, bounces: 16 },
];

export interface VmtestsOptions {
  /** Where the plan, notes and results go. */
  readonly sink: ResultSink;
  /** Reserve huge pages and switch THP sizes as root, restoring them after (default true). */
  readonly setup: boolean;
  /** Stress write-protect too. */
  readonly wp: boolean;
  /** Seconds one unit case may run. */
  readonly unitTimeoutS: number;
  /** Unit cases side by side (default 1). */
  readonly jobs?: number;
  readonly progress?: (label: string) => { update(done: number, total: number, line: string): void; clear(): void };
}

/** Huge pages for the hugetlb stress runs: run_vmtests' size, or what is free. */
function hugetlbStressSize(setup: boolean, groups: number): { mib: number; change?: SettingChange; note?: string; skip?: string } {
  const hps = pageSizeOf(MEMORY.hugetlb);
  if (hps === 0) return { mib: 0, skip: "no hugetlb page size on this kernel" };
  const hpsMiB = hps / 2 ** 20;
  // run_vmtests.sh: half_ufd_size_MB = ceil(nr_cpus * hpage MiB / 128) * 128, needing twice that in huge pages.
  const target = Math.ceil((groups * hpsMiB) / 128) * 128;
  const need = (2 * target) / hpsMiB;
  if (mayChangeSettings(setup)) {
    try {
      const change = reserveHugepages(need);
      const note = change ? `nr_hugepages ${change.original} + ${change.share} for the hugetlb stress runs` : undefined;
      return { mib: target, change, note };
    } catch (e) {
      // Pages found free may be another run's: without a share of its own, the hugetlb stress skips.
      return { mib: 0, skip: `not enough HugeTLB pages (need ${need}; could not reserve them for this run: ${(e as Error).message})` };
    }
  }
  const free = hugepageState().free;
  return { mib: Math.min(target, Math.floor(free / 2) * hpsMiB) };
}

/** Throws InterruptedError once a signal has come: no further part of the run starts. */
function stopIfInterrupted(): void {
  const sig = interrupted();
  if (sig) throw new InterruptedError(`interrupted by ${sig}`);
}

/** Hugetlb page sizes above the default one (1 GiB on x86_64): the kernel takes seconds to allocate one. */
function gigantic(sizes: readonly number[]): number[] {
  const base = pageSizeOf(MEMORY.hugetlb);
  return base === 0 ? [] : sizes.filter((s) => s > base);
}

/** The stress rows of fixed size, one after another, each in a child process; by memory type. */
function sideLane(wp: boolean): Map<MemoryName, Promise<RowOutcome>> {
  const lane = new Map<MemoryName, Promise<RowOutcome>>();
  let prev: Promise<unknown> = Promise.resolve();
  for (const row of VMTESTS_STRESS) {
    if (row.mib === "H") continue;
    const args = [
      row.mem,
      String(row.mib),
      String(row.bounces),
      "--eexist-interval",
      String(EEXIST_INTERVAL_S),
      ...(wp ? [] : ["--no-wp"]),
    ];
    const p = prev.then(() => stressInChild(args, stressName({ mem: MEMORY[row.mem], mib: row.mib as number, bounces: row.bounces })));
    lane.set(row.mem, p);
    // Handled here (a rejection is read where the row is reported); the next row starts after this one either way.
    prev = p.catch(() => undefined);
  }
  return lane;
}

export async function runVmtests(opts: VmtestsOptions): Promise<void> {
  const sink = opts.sink;

  const unitPlanned = planUnit(allCases()).length;
  const wpSizes = { thp: thpSizes(), hugetlb: hugetlbSizes() };
  const wpPlanned = planWpMremap(wpSizes).length;
  const planned = unitPlanned + VMTESTS_STRESS.length + wpPlanned;
  sink.plan(planned);

  // With cases side by side, the stress rows that need no huge pages run
  // meanwhile, one after another, each in its own process; and the
  // gigantic hugetlb pages uffd-wp-mremap needs (seconds to allocate) are
  // reserved meanwhile by helper processes.
  const side = (opts.jobs ?? 1) > 1;
  const lane = side ? sideLane(opts.wp) : new Map<MemoryName, Promise<RowOutcome>>();
  const holds = side && mayChangeSettings(opts.setup) ? gigantic(wpSizes.hugetlb).map(holdHugepage) : [];
  try {
    await runParts(opts, lane, holds);
  } finally {
    await Promise.all(holds.map((h) => h.release()));
  }
}

/** unit, stress and wp-mremap, one after another, into the run's sink. */
async function runParts(opts: VmtestsOptions, lane: Map<MemoryName, Promise<RowOutcome>>, holds: readonly HugepageHold[]): Promise<void> {
  const sink = opts.sink;

  // 1. uffd-unit-tests
  sink.note("uffd-unit-tests");
  try {
    await runUnit({ timeoutS: opts.unitTimeoutS, setup: opts.setup, isolate: true, jobs: opts.jobs, sink: section(sink) });
  } catch (e) {
    // An interrupt ends the whole run (the settings are put back on the way out), not just this part.
    if (e instanceof InterruptedError) throw e;
    sink.result({
      name: "uffd-unit-tests",
      part: "unit",
      memory: null,
      status: "fail",
      reason: "runner failed",
      diagnostics: [`unit runner failed: ${(e as Error).message}`],
    });
  }

  // 2. uffd-stress at run_vmtests' sizes
  const groups = defaultGroups();
  let huge: ReturnType<typeof hugetlbStressSize> | undefined;
  try {
    for (const row of VMTESTS_STRESS) {
      stopIfInterrupted();
      const mem = MEMORY[row.mem];
      let mib: number;
      let skip: string | undefined;
      if (row.mib === "H") {
        if (!huge) {
          huge = hugetlbStressSize(opts.setup, groups);
          if (huge.note) sink.note(huge.note);
        }
        mib = huge.mib;
        skip = huge.skip;
      } else {
        mib = row.mib;
      }
      const name = stressName({ mem, mib, bounces: row.bounces });
      sink.note(name);
      let r: Pick<StressOutcome, "status" | "reason"> | undefined;
      const beside = lane.get(row.mem);
      if (beside) {
        const o = await beside;
        for (const line of o.notes) sink.note(line);
        r = o;
      } else if (!skip) {
        let req: StressRequest | undefined;
        try {
          const geometry = stressGeometry(mem, mib, groups);
          req = { mem, mib, bounces: row.bounces, wp: opts.wp, eexistIntervalS: EEXIST_INTERVAL_S, geometry };
        } catch (e) {
          if (!(e instanceof StressInputError)) throw e;
          // Too few huge pages for one per group: not a failure of the kernel.
          skip = `not enough HugeTLB pages for ${groups} groups (${e.message})`;
        }
        if (req) {
          const tty = opts.progress?.(name);
          r = await executeStress(req, {
            note: (line) => {
              tty?.clear();
              sink.note(line);
            },
            progress: tty ? (d, t, l) => tty.update(d, t, l) : undefined,
            // The hugetlb runs use the pages reserved above; the others need none.
            reserve: false,
          });
          tty?.clear();
        }
      }
      const status = r ? r.status : "skip";
      const reason = r ? r.reason : skip;
      // Here a failure's reason is the directive of its line, and a diagnostic too.
      sink.result({ name, part: "stress", memory: row.mem, status, reason, diagnostics: status === "fail" && reason ? [reason] : [] });
      // The hugetlb rows are done: their pages go back now (dispose is idempotent).
      if (row.mem === "hugetlb-private") huge?.change?.dispose();
    }
  } finally {
    huge?.change?.dispose();
  }

  // 3. uffd-wp-mremap
  sink.note("uffd-wp-mremap");
  try {
    const held = new Set<number>();
    for (const h of holds) if (await h.held) held.add(h.size);
    stopIfInterrupted();
    // Between cases the event loop gets a turn, so a signal is handled within one case's time.
    await runWpMremapAsync({ sink: section(sink), setup: opts.setup, held });
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    sink.result({
      name: "uffd-wp-mremap",
      part: "wp-mremap",
      memory: null,
      status: "fail",
      reason: "runner failed",
      diagnostics: [`wp-mremap runner failed: ${(e as Error).message}`],
    });
  }
}
