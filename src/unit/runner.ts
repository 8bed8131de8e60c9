// `uffd-suite unit`: plan the (case, memory type) fan-out, gate it against the
// kernel, set up huge pages, run each entry (in its own process by default)
// and stream KTAP.
import { InterruptedError, interrupted } from "../harness/restore.ts";
import { log } from "../log.ts";
import { KtapWriter, type KtapCounts } from "../report/ktap.ts";
import { FeatureSet } from "../uffd/bits.ts";
import { probeFeatures } from "../uffd/uffd.ts";
import { hugepagesFor, type KernelView, skipReason, staticSkipReason } from "./gate.ts";
import { CaseProcesses } from "./isolate.ts";
import { withKnownBug } from "./known-bugs.ts";
import { allCases, type PlannedCase, planCases, type PlanOptions } from "./plan.ts";
import type { CaseResult } from "./result.ts";
import { plantedFromEnv, runCase } from "./run-case.ts";
import { deniedFeatures } from "./permitted.ts";
import { HugepageSetup } from "./setup.ts";

export interface UnitRunOptions extends PlanOptions {
  /** Seconds one case may run. */
  readonly timeoutS: number;
  /** Reserve huge pages (as root) and restore them after. */
  readonly setup: boolean;
  /** Each case in its own process (default); false runs them here, without crash isolation. */
  readonly isolate: boolean;
  /** Where KTAP goes (stdout). */
  readonly write: (text: string) => void;
}

export interface UnitRunSummary {
  readonly counts: KtapCounts;
  readonly planned: number;
  readonly ms: number;
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
    timer = setTimeout(() => resolve({
      status: "fail",
      directive: `TIMEOUT ${timeoutLabel(timeoutS)}`,
      diagnostics: [`${entry.name}: still running after ${timeoutLabel(timeoutS)} (in-process: left behind)`],
    }), timeoutS * 1000);
  });
  try {
    return await Promise.race([runCase(entry.unit, entry.mem, { kernel: featuresOf(kernel), planted: plantedFromEnv() }), limit]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runUnit(opts: UnitRunOptions): Promise<UnitRunSummary> {
  const started = performance.now();
  const plan = planCases(allCases(), opts);
  const kernel = kernelView();
  if ("openError" in kernel) log.warn(`userfaultfd unavailable: ${kernel.openError}`);

  // Entries that may run (free huge pages are checked just before each one).
  const runnable = plan.map((e) => !staticSkipReason(e.unit, e.mem, kernel));
  const need = Math.max(0, ...plan.filter((_, i) => runnable[i]).map((e) => hugepagesFor(e.unit, e.mem)));
  const hugepages = new HugepageSetup({ allowed: opts.setup });
  hugepages.ensure(need);
  const ktap = new KtapWriter(opts.write);
  const procs = opts.isolate ? new CaseProcesses({ timeoutMs: opts.timeoutS * 1000, timeoutLabel: timeoutLabel(opts.timeoutS) }) : undefined;
  try {
    ktap.plan(plan.length);
    for (const [i, entry] of plan.entries()) {
      // A signal ends the run: no further case starts (the signal handler ends the output).
      const sig = interrupted();
      if (sig) throw new InterruptedError(`interrupted by ${sig}`);
      if (runnable[i]) hugepages.ensure(hugepagesFor(entry.unit, entry.mem));
      const skip = skipReason(entry.unit, entry.mem, kernel);
      if (skip) {
        ktap.result(entry.name, { status: "skip", reason: skip, diagnostics: [] });
        continue;
      }
      const r = procs
        ? await procs.run(entry, { next: runnable.includes(true, i + 1) })
        : await inProcess(entry, kernel, opts.timeoutS);
      log.debug(`${entry.name}: ${r.status} in ${r.ms ?? "?"} ms`);
      ktap.result(entry.name, withKnownBug(r, entry.unit, entry.mem?.name));
    }
    ktap.totals();
  } finally {
    await procs?.close();
    hugepages.restore();
  }
  return { counts: ktap.counts, planned: plan.length, ms: Math.round(performance.now() - started) };
}
