// Hidden: `uffd-suite unit-case --case NAME [--mem TYPE]`, or `unit-case
// --stdin` (start up, warm the Worker pool, then read {"case","mem","token"}
// as one JSON line), runs one case in this process and prints its result as
// one record line on stdout (record.ts): an ack once it has its case, then the
// result, both carrying the request's token. The unit runner starts one of
// these per case, for crash and hang isolation.
import { writeSync } from "node:fs";
import type { CommandDef } from "citty";
import { workerPool } from "../harness/pool.ts";
import { MEMORY_NAMES, memoryType } from "../harness/memory.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import { caseFault } from "../unit/case-fault.ts";
import { findCase } from "../unit/plan.ts";
import { ackLine, type CaseRequest, recordLine } from "../unit/record.ts";
import { featuresOf, kernelView } from "../unit/runner.ts";
import { plantedFromEnv, runCase } from "../unit/run-case.ts";
import { UsageError } from "./usage-error.ts";

const args = {
  case: { type: "string", description: "Case name" },
  mem: { type: "string", description: `Memory type (${MEMORY_NAMES.join(", ")})` },
  stdin: { type: "boolean", description: "Read the case as a JSON line on stdin, after warming up" },
} as const;

async function request(a: { case?: string; mem?: string; stdin?: boolean }): Promise<CaseRequest | undefined> {
  if (!a.stdin) {
    if (a.case === undefined) throw new UsageError("unit-case needs --case NAME or --stdin");
    return { case: a.case, mem: a.mem };
  }
  // Warm-up, paid while the runner has no case for us yet: Workers, and the kernel's features.
  const pool = workerPool();
  await Promise.all([pool.warm("handler", 1), pool.warm("toucher", 1)]);
  kernelFeatures();
  caseFault.at("warm");
  const line = (await Bun.stdin.text()).trim();
  if (line === "") return undefined; // the runner needed no more cases
  const r = JSON.parse(line) as CaseRequest;
  if (typeof r.case !== "string") throw new UsageError("unit-case: bad request on stdin");
  return r;
}

let features: FeatureSet | undefined;

/** The kernel's features as a case sees them (probed once). */
function kernelFeatures(): FeatureSet {
  features ??= featuresOf(kernelView());
  return features;
}

const unitCase: CommandDef<typeof args> = {
  meta: { name: "unit-case", description: "Run one unit case, print its result as JSON (used by `unit`)", hidden: true },
  args,
  async run({ args: a }) {
    // Orphaned (the runner died without killing us): end at once, Workers and all.
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && process.kill(process.pid, "SIGKILL"), 250).unref();
    caseFault.at("start");
    const req = await request(a);
    if (!req) {
      workerPool().shutdown();
      return 0;
    }
    caseFault.take(req.case);
    writeSync(1, ackLine(req));
    caseFault.at("request");
    const c = findCase(req.case);
    if (!c) throw new UsageError(`unknown unit case '${req.case}'`);
    if ((c.memory === "none") !== (req.mem === undefined)) {
      throw new UsageError(c.memory === "none" ? `case '${req.case}' takes no --mem` : `case '${req.case}' needs --mem`);
    }
    const mem = req.mem === undefined ? undefined : memoryType(req.mem);
    const startedAt = Date.now();
    caseFault.during();
    const r = await runCase(c, mem, { kernel: kernelFeatures(), planted: plantedFromEnv() });
    const line = recordLine(req, r);
    caseFault.write(line);
    caseFault.logSent(req, r, { startedAt, endedAt: Date.now() });
    caseFault.at("record");
    workerPool().shutdown();
    return caseFault.exitCode();
  },
};

export default unitCase;
