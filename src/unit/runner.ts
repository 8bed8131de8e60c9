// `uffd-suite unit`: plan the (case, memory type) fan-out, gate it against the
// kernel, set up huge pages, run the entries (each in its own process by
// default, up to `jobs` side by side as schedule.ts allows) and hand the
// results to the run's sink in catalogue order.
import { InterruptedError, interrupted } from "../machine/signals.ts";
import { log } from "../log.ts";
import { hugepageState } from "../machine/hugepages.ts";
import type { Result, ResultSink } from "../report/result.ts";
import { FeatureSet } from "../uffd/bits.ts";
import { probeFeatures } from "../uffd/uffd.ts";
import { hugepagesFor, type KernelView, skipReason, staticSkipReason } from "./gate.ts";
import { CaseProcesses } from "./isolate.ts";
import type { UnitCase } from "./case.ts";
import { withKnownBug } from "./known-bugs.ts";
import { allCases, type PlannedCase, planCases, type PlanOptions } from "./plan.ts";
import type { CaseResult } from "./result.ts";
import { plantedFromEnv, runCase } from "./run-case.ts";
import { deniedFeatures } from "./permitted.ts";
import { Admission, hugepagesWanted, memoryBudgetMiB, needsOf } from "./schedule.ts";
import { HugepageSetup } from "../machine/hugepage-setup.ts";

export interface UnitRunOptions extends PlanOptions {
  /** Seconds one case may run. */
  readonly timeoutS: number;
  /** Reserve huge pages (as root) and restore them after. */
  readonly setup: boolean;
  /** Each case in its own process (default); false runs them here, without crash isolation. */
  readonly isolate: boolean;
  /** Cases run side by side (isolated runs only); default 1. */
  readonly jobs?: number;
  /** The cases to plan from (default: the catalogue, see allCases). */
  readonly cases?: readonly UnitCase[];
  /** Where the plan and the results go. */
  readonly sink: ResultSink;
  /** Where case processes' stderr (their logs, a crash report) goes; default our stderr. */
  readonly stderr?: (text: string) => void;
}

export function kernelView(): KernelView {
  try {
    const features = probeFeatures();
    return { features, denied: deniedFeatures(features) };
  } catch (e) {
    return { openError: (e as Error).message };
  }
}

/** The features to hand a case (none where no userfaultfd opens: only the API checks run then). */
export function featuresOf(kernel: KernelView): FeatureSet {
  return "features" in kernel ? kernel.features : new FeatureSet(0n);
}

function timeoutLabel(s: number): string {
  return `${Number(s.toFixed(3))} s`;
}

async function inProcess(entry: PlannedCase, kernel: KernelView, timeoutS: number): Promise<CaseResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<CaseResult>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          status: "fail",
          reason: `TIMEOUT ${timeoutLabel(timeoutS)}`,
          diagnostics: [`${entry.name}: still running after ${timeoutLabel(timeoutS)} (in-process: left behind)`],
        }),
      timeoutS * 1000,
    );
  });
  try {
    return await Promise.race([runCase(entry.unit, entry.mem, { kernel: featuresOf(kernel), planted: plantedFromEnv() }), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Results printed in catalogue order: each as soon as it and every earlier
 * one are known. An entry gets exactly one result; a second is a bug.
 */
class InOrder {
  readonly #plan: readonly PlannedCase[];
  readonly #sink: ResultSink;
  readonly #results: Array<CaseResult | undefined>;
  #next = 0;

  constructor(plan: readonly PlannedCase[], sink: ResultSink) {
    this.#plan = plan;
    this.#sink = sink;
    this.#results = plan.map(() => undefined);
  }

  set(i: number, r: CaseResult): void {
    if (this.#results[i] || i < this.#next) throw new Error(`internal: a second result for ${this.#plan[i]!.name}`);
    this.#results[i] = r;
    for (let r2 = this.#results[this.#next]; r2; r2 = this.#results[this.#next]) {
      const entry = this.#plan[this.#next]!;
      this.#sink.result(unitResult(entry, withKnownBug(r2, entry.unit, entry.mem?.name)));
      this.#results[this.#next++] = undefined;
    }
  }

  get done(): boolean {
    return this.#next === this.#plan.length;
  }
}

/** A case's result in the run's stream: named, with its memory type. */
function unitResult(entry: PlannedCase, r: CaseResult): Result {
  return {
    name: entry.name,
    part: "unit",
    memory: entry.mem?.name ?? null,
    status: r.status,
    reason: r.reason,
    diagnostics: r.diagnostics,
  };
}

export async function runUnit(opts: UnitRunOptions): Promise<void> {
  const plan = planCases(opts.cases ?? allCases(), opts);
  const kernel = kernelView();
  if ("openError" in kernel) log.warn(`userfaultfd unavailable: ${kernel.openError}`);
  // In-process cases share one process: one at a time.
  const jobs = opts.isolate ? Math.max(1, opts.jobs ?? 1) : 1;

  // Entries that may run (free huge pages are checked just before each hugetlb one).
  const fixedSkip = plan.map((e) => staticSkipReason(e.unit, e.mem, kernel));
  const needs = plan.map((e) => needsOf(e, hugepagesFor(e.unit, e.mem)));
  const hugepages = new HugepageSetup({ allowed: opts.setup });
  hugepages.ensure(hugepagesWanted(needs.filter((_, i) => !fixedSkip[i])));
  const admission = new Admission({ jobs, memoryMiB: memoryBudgetMiB() });
  const out = new InOrder(plan, opts.sink);
  const procs = opts.isolate
    ? new CaseProcesses({ timeoutMs: opts.timeoutS * 1000, timeoutLabel: timeoutLabel(opts.timeoutS), stderr: opts.stderr })
    : undefined;
  const pending = plan.map((_, i) => i);
  const running = new Map<number, Promise<void>>();
  let failure: unknown;

  const runOne = async (i: number): Promise<void> => {
    const entry = plan[i]!;
    try {
      const r = procs ? await procs.run(entry) : await inProcess(entry, kernel, opts.timeoutS);
      log.debug(`${entry.name}: ${r.status} in ${r.ms ?? "?"} ms`);
      out.set(i, r);
    } catch (e) {
      failure ??= e;
    } finally {
      admission.finish(i);
      running.delete(i);
    }
  };

  /** Why entry i skips now (it is about to start); a hugetlb case first gets its pages, as in a serial run. */
  const skipNow = (i: number): string | undefined => {
    const entry = plan[i]!;
    const need = needs[i]!.hugepages;
    if (need === 0) return undefined; // fixed skips were taken out before
    hugepages.ensure(need);
    return skipReason(entry.unit, entry.mem, kernel, hugepages.refusal(need));
  };

  /** Start, in catalogue order, every pending entry that fits beside the running ones. */
  const startWhatFits = (): void => {
    const waiting = new Set<string>();
    for (let k = 0; k < pending.length; ) {
      const i = pending[k]!;
      const n = needs[i]!;
      if (fixedSkip[i]) {
        pending.splice(k, 1);
        out.set(i, { status: "skip", reason: fixedSkip[i], diagnostics: [] });
        continue;
      }
      const blocked = admission.blocker(n);
      // Nothing overtakes a case that waits to run alone, nor one that waits for its kind of resource.
      if (blocked === "jobs" || blocked === "alone") break;
      const kind = n.hugepages > 0 ? "hugetlb" : n.thp ? "thp" : "plain";
      // A top-up of nr_hugepages waits until no THP case runs.
      const topUp = n.hugepages > 0 && admission.thpRunning && hugepageState().free < n.hugepages;
      if (blocked || topUp || waiting.has(kind)) {
        waiting.add(kind);
        k++;
        continue;
      }
      pending.splice(k, 1);
      const skip = skipNow(i);
      if (skip) {
        out.set(i, { status: "skip", reason: skip, diagnostics: [] });
        continue;
      }
      admission.start(i, n);
      running.set(i, runOne(i));
      if (admission.running >= jobs) break;
    }
    // Processes for the cases still to come start warming while these run.
    if (procs) procs.warm(Math.min(jobs, pending.filter((i) => !fixedSkip[i]).length));
  };

  try {
    opts.sink.plan(plan.length);
    while (pending.length > 0 || running.size > 0) {
      // A signal ends the run: no further case starts (the signal handler ends the output).
      const sig = interrupted();
      if (sig) throw new InterruptedError(`interrupted by ${sig}`);
      if (failure) throw failure;
      startWhatFits();
      if (running.size === 0 && pending.length > 0) throw new Error("internal: cases left that cannot start");
      if (running.size > 0) await Promise.race(running.values());
    }
    if (failure) throw failure;
    if (!out.done) throw new Error("internal: the run ended with results missing");
  } finally {
    await procs?.close();
    await Promise.allSettled(running.values());
    hugepages.restore();
  }
}
