// `uffd-suite unit [-l] [-f SUBSTR] [--mem anon,shmem,...] [--origin kernel|suite|all] [--timeout S]
//  [--no-setup] [--no-isolate] [--jobs N] [--format ktap|json|junit] [-o FILE]`:
// the kernel's uffd-unit-tests, KTAP on stdout.
import type { CommandDef } from "citty";
import { MEMORY_NAMES, type MemoryName } from "../harness/memory.ts";
import { log } from "../log.ts";
import { listCases } from "../unit/list.ts";
import { allCases, planCases } from "../unit/plan.ts";
import { defaultJobs, runUnit } from "../unit/runner.ts";
import { EXIT } from "./exit.ts";
import { startTestRun } from "./interrupt.ts";
import { reportArgs, reportOptions } from "./report-options.ts";
import { ReportOutput } from "./report-output.ts";
import { UsageError } from "./usage-error.ts";
import { setCaseTimeout } from "../unit/limits.ts";

const args = {
  list: { type: "boolean", alias: "l", description: "List the cases (name, memory types, what each checks) and exit" },
  filter: { type: "string", alias: "f", valueHint: "SUBSTR", description: "Only cases whose name contains SUBSTR" },
  mem: { type: "string", valueHint: "LIST", description: `Only these memory types, comma-separated (${MEMORY_NAMES.join(",")})` },
  origin: {
    type: "string",
    valueHint: "kernel|suite|all",
    description: "Which cases: the C suite's (kernel: its 67 on a full kernel), ours alone (suite), or all (default)",
  },
  timeout: { type: "string", valueHint: "S", description: "Seconds each case may run before it is killed (default 60, at least 1)" },
  setup: {
    type: "boolean",
    default: true,
    description: "Reserve the huge pages the hugetlb cases need (as root) and restore nr_hugepages after",
    negativeDescription: "Change nothing on the system: hugetlb cases skip when too few huge pages are free",
  },
  isolate: {
    type: "boolean",
    default: true,
    description: "Run each case in its own process, so a crash or hang fails only that case",
    negativeDescription: "Run every case inside this process (faster; a crash ends the run)",
  },
  jobs: {
    type: "string",
    alias: "j",
    valueHint: "N",
    description: "Cases run side by side, each in its own process (default: the CPUs this process may use; 1: one after another)",
  },
  ...reportArgs,
} as const;

export function parseMems(s: string | undefined): MemoryName[] | undefined {
  if (s === undefined) return undefined;
  const names = s.split(",").map((m) => m.trim());
  for (const m of names) {
    if (!(MEMORY_NAMES as readonly string[]).includes(m)) {
      throw new UsageError(`unknown memory type '${m}' in --mem (expected ${MEMORY_NAMES.join(", ")})`);
    }
  }
  return names as MemoryName[];
}

export function parseOrigin(s: string | undefined): "kernel" | "suite" | undefined {
  if (s === undefined || s === "all") return undefined;
  if (s === "kernel" || s === "suite") return s;
  throw new UsageError(`--origin wants kernel, suite or all, not '${s}'`);
}

/** Longest --timeout: a day (setTimeout cannot wait past 2^31 ms; beyond it would fire at once). */
export const MAX_TIMEOUT_S = 86_400;
/** Shortest --timeout: below a second a case would be killed before its process has got going. */
export const MIN_TIMEOUT_S = 1;

/** Most cases side by side. */
export const MAX_JOBS = 1024;

/** --jobs: a whole number 1..MAX_JOBS; default the CPUs we may use (1 without isolation). */
export function parseJobs(s: string | undefined, isolate = true): number {
  if (s === undefined) return isolate ? defaultJobs() : 1;
  const v = /^[0-9]+$/.test(s) ? Number(s) : Number.NaN;
  if (!(v >= 1)) throw new UsageError(`--jobs wants a whole number of cases >= 1, not '${s}'`);
  if (v > MAX_JOBS) throw new UsageError(`--jobs ${s} is too many (at most ${MAX_JOBS})`);
  if (v > 1 && !isolate) throw new UsageError("--jobs above 1 needs each case in its own process (leave out --no-isolate)");
  return v;
}

export function parseTimeout(s: string | undefined): number {
  if (s === undefined) return 60;
  // Decimal only: Number() would also take "0x10", "1e1" and " 5".
  const v = /^[0-9]+(\.[0-9]+)?$/.test(s) ? Number(s) : Number.NaN;
  if (Number.isNaN(v)) throw new UsageError(`--timeout wants a decimal number of seconds (at least ${MIN_TIMEOUT_S}), not '${s}'`);
  if (v < MIN_TIMEOUT_S) throw new UsageError(`--timeout ${s} is too short (at least ${MIN_TIMEOUT_S} s)`);
  if (v > MAX_TIMEOUT_S) throw new UsageError(`--timeout ${s} is too long (at most ${MAX_TIMEOUT_S} s)`);
  return v;
}

const unit: CommandDef<typeof args> = {
  meta: { name: "unit", description: "Run the userfaultfd unit tests (uffd-unit-tests): KTAP on stdout" },
  args,
  async run({ args: a }) {
    if (a.filter !== undefined && a.filter === "") throw new UsageError("-f wants a non-empty part of a case name");
    const mems = parseMems(a.mem);
    const timeoutS = parseTimeout(a.timeout);
    setCaseTimeout(timeoutS);
    const origin = parseOrigin(a.origin);
    const jobs = parseJobs(a.jobs, a.isolate);
    const report = reportOptions(a);
    const cases = allCases().filter((c) => (a.filter === undefined || c.name.includes(a.filter)) && (!origin || c.origin === origin));
    if (cases.length === 0) {
      const which = `${origin ? `${origin} ` : ""}unit case`;
      throw new UsageError(a.filter === undefined ? `no ${which} in the catalogue` : `no ${which} name contains '${a.filter}'`);
    }
    if (a.list) {
      process.stdout.write(listCases(cases));
      return EXIT.OK;
    }
    if (planCases(cases, { mems }).length === 0) {
      throw new UsageError(`no unit case runs on --mem ${a.mem}${a.filter ? ` with -f ${a.filter}` : ""}`);
    }
    const out = ReportOutput.open(report, "unit");
    startTestRun(out);
    const s = await runUnit({ filter: a.filter, mems, origin, timeoutS, setup: a.setup, isolate: a.isolate, jobs, write: out.write });
    const settingsOk = await out.finish();
    log.info(`unit: ${s.counts.pass} pass, ${s.counts.fail} fail, ${s.counts.skip} skip in ${(s.ms / 1000).toFixed(1)} s`);
    if (s.counts.fail > 0 || !settingsOk) return EXIT.FAIL;
    return s.counts.pass === 0 ? EXIT.NOTHING_RAN : EXIT.OK;
  },
};

export default unit;
