// Hidden: `uffd-suite unit-case --case NAME [--mem TYPE]` runs one case, or
// `unit-case --stdin` starts up, warms the Worker pool, then runs the cases it
// reads on stdin ({"case","mem","token"}, one JSON line each) one at a time
// until EOF. For each it writes on stdout (record.ts) an ack once it has the
// case, the result record, and "ready" once it is idle again, all carrying the
// request's token. The unit runner runs cases in these for crash and hang
// isolation, and ends one after any failure.
import { exitWithParent } from "../harness/self-exec.ts";
import { writeSync } from "node:fs";
import type { CommandDef } from "citty";
import { workerPool } from "../harness/pool.ts";
import { MEMORY_NAMES, memoryType } from "../harness/memory.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import { caseFault } from "../unit/case-fault.ts";
import { findCase } from "../unit/plan.ts";
import { ackLine, type CaseRequest, readyLine, recordLine } from "../unit/record.ts";
import { featuresOf, kernelView } from "../unit/runner.ts";
import { plantedFromEnv, runCase } from "../unit/run-case.ts";
import { UsageError } from "./usage-error.ts";

const args = {
  case: { type: "string", description: "Case name" },
  mem: { type: "string", description: `Memory type (${MEMORY_NAMES.join(", ")})` },
  stdin: { type: "boolean", description: "Read the case as a JSON line on stdin, after warming up" },
} as const;

/** Lines of stdin as they come (the last one may lack its newline). */
async function* stdinLines(): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of Bun.stdin.stream()) {
    buf += dec.decode(chunk, { stream: true });
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf.trim() !== "") yield buf;
}

function parseRequest(line: string): CaseRequest {
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

/** Run the case `req` names and send its record; false if a planted fault ends the process after it. */
async function serve(req: CaseRequest): Promise<boolean> {
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
  caseFault.write(recordLine(req, r));
  caseFault.logSent(req, r, { startedAt, endedAt: Date.now() });
  caseFault.at("record");
  return !caseFault.exitsAfterRecord();
}

const unitCase: CommandDef<typeof args> = {
  meta: { name: "unit-case", description: "Run one unit case, print its result as JSON (used by `unit`)", hidden: true },
  args,
  async run({ args: a }) {
    exitWithParent();
    caseFault.at("start");
    try {
      if (!a.stdin) {
        if (a.case === undefined) throw new UsageError("unit-case needs --case NAME or --stdin");
        return (await serve({ case: a.case, mem: a.mem })) ? 0 : 3;
      }
      // Warm-up, paid while the runner has no case for us yet: Workers, and the kernel's features.
      const pool = workerPool();
      await Promise.all([pool.warm("handler", 1), pool.warm("toucher", 1)]);
      kernelFeatures();
      caseFault.at("warm");
      // One case per line, each answered with ack, record, ready; EOF: the runner needs no more.
      for await (const line of stdinLines()) {
        if (line.trim() === "") continue;
        const req = parseRequest(line);
        if (!(await serve(req))) return 3;
        writeSync(1, readyLine(req));
        caseFault.at("idle");
      }
      return 0;
    } finally {
      workerPool().shutdown();
    }
  },
};

export default unitCase;
