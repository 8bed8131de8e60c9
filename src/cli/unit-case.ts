// Hidden: `uffd-suite unit-case --case NAME [--mem TYPE]` runs one case in
// this process and prints its result as one JSON line on stdout. The unit
// runner starts one of these per case, for crash and hang isolation.
import { writeSync } from "node:fs";
import type { CommandDef } from "citty";
import { workerPool } from "../harness/pool.ts";
import { MEMORY_NAMES, memoryType } from "../harness/memory.ts";
import { findCase } from "../unit/plan.ts";
import { featuresOf, kernelView } from "../unit/runner.ts";
import { plantedFromEnv, runCase } from "../unit/run-case.ts";
import { UsageError } from "./usage-error.ts";

const args = {
  case: { type: "string", required: true, description: "Case name" },
  mem: { type: "string", description: `Memory type (${MEMORY_NAMES.join(", ")})` },
} as const;

const unitCase: CommandDef<typeof args> = {
  meta: { name: "unit-case", description: "Run one unit case, print its result as JSON (used by `unit`)", hidden: true },
  args,
  async run({ args: a }) {
    const c = findCase(a.case);
    if (!c) throw new UsageError(`unknown unit case '${a.case}'`);
    if ((c.memory === "none") !== (a.mem === undefined)) {
      throw new UsageError(c.memory === "none" ? `case '${a.case}' takes no --mem` : `case '${a.case}' needs --mem`);
    }
    const mem = a.mem === undefined ? undefined : memoryType(a.mem);
    // Orphaned (the runner died without killing us): end at once, Workers and all.
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && process.kill(process.pid, "SIGKILL"), 250).unref();
    const r = await runCase(c, mem, { kernel: featuresOf(kernelView()), planted: plantedFromEnv() });
    writeSync(1, `${JSON.stringify(r)}\n`);
    workerPool().shutdown();
    return 0;
  },
};

export default unitCase;
