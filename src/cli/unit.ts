// `uffd-suite unit [-l] [-f SUBSTR] [--mem anon,shmem,...] [--origin kernel|suite|all] [--timeout S]
//  [--no-setup] [--no-isolate] [--jobs N] [--format ktap|json|junit] [-o FILE]`:
// the kernel's uffd-unit-tests, KTAP on stdout.
import type { CommandDef } from "citty";
import { MEMORY_NAMES } from "../harness/memory.ts";
import { listCases } from "../unit/list.ts";
import { allCases, planCases } from "../unit/plan.ts";
import { runUnit } from "../unit/runner.ts";
import { EXIT } from "./exit.ts";
import { reportArgs, reportOptions } from "./report-options.ts";
import { runTests } from "./test-run.ts";
import { UsageError } from "./usage-error.ts";
import { parseFilter, parseJobs, parseMems, parseOrigin, parseTimeout } from "./values.ts";
import { setCaseTimeout } from "../harness/limits.ts";

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

const unit: CommandDef<typeof args> = {
  meta: { name: "unit", description: "Run the userfaultfd unit tests (uffd-unit-tests): KTAP on stdout" },
  args,
  async run({ args: a }) {
    const filter = parseFilter(a.filter);
    const mems = parseMems(a.mem);
    const timeoutS = parseTimeout(a.timeout);
    setCaseTimeout(timeoutS);
    const origin = parseOrigin(a.origin);
    const jobs = parseJobs(a.jobs, a.isolate);
    const report = reportOptions(a);
    const cases = allCases().filter((c) => (filter === undefined || c.name.includes(filter)) && (!origin || c.origin === origin));
    if (cases.length === 0) {
      const which = `${origin ? `${origin} ` : ""}unit case`;
      throw new UsageError(filter === undefined ? `no ${which} in the catalogue` : `no ${which} name contains '${filter}'`);
    }
    if (a.list) {
      process.stdout.write(listCases(cases));
      return EXIT.OK;
    }
    if (planCases(cases, { mems }).length === 0) {
      throw new UsageError(`no unit case runs on --mem ${a.mem}${filter ? ` with -f ${filter}` : ""}`);
    }
    return await runTests({ command: "unit", report, summary: true }, async (sink) => {
      await runUnit({ filter, mems, origin, timeoutS, setup: a.setup, isolate: a.isolate, jobs, sink });
    });
  },
};

export default unit;
