// `uffd-suite stress <mem> <MiB> <bounces>`: uffd-stress, as one KTAP result.
import type { CommandDef } from "citty";
import { EEXIST_INTERVAL_S, executeStress, plantsFromEnv, stressName, stressRequest, terminalProgress } from "../stress/cli-run.ts";
import { StressInputError } from "../stress/geometry.ts";
import { MEMORY_NAMES } from "../harness/memory.ts";
import { reportArgs, reportOptions } from "./report-options.ts";
import { runTests } from "./test-run.ts";
import { UsageError } from "./usage-error.ts";
import { parseBounces, parseMemory, parseMiB, parseSeconds } from "./values.ts";

const args = {
  mem: { type: "positional", required: true, description: `Memory type: ${MEMORY_NAMES.join(", ")}` },
  mib: { type: "positional", required: true, description: "Size of each area in MiB" },
  bounces: { type: "positional", required: true, description: "Bounces (each moves every page once)" },
  wp: {
    type: "boolean",
    default: true,
    description: "Stress write-protect as well (on by default)",
    negativeDescription: "Leave write-protect out (as the upstream C since 6.17)",
  },
  "eexist-interval": {
    type: "string",
    valueHint: "S",
    description: "Seconds between deliberate repeat copies that must give EEXIST (default 10; 0: one each bounce)",
  },
  ...reportArgs,
} as const;

const stress: CommandDef<typeof args> = {
  meta: {
    name: "stress",
    description: "Bounce an area between two mappings through userfaultfd under locking load (uffd-stress)",
  },
  args,
  async run({ args: a }) {
    const mem = parseMemory(a.mem);
    const mib = parseMiB(a.mib);
    const bounces = parseBounces(a.bounces);
    const raw = a["eexist-interval"];
    const eexistIntervalS = raw === undefined ? EEXIST_INTERVAL_S : parseSeconds("--eexist-interval", raw);
    let req;
    try {
      req = stressRequest({ mem, mib, bounces, wp: a.wp, eexistIntervalS });
    } catch (e) {
      if (e instanceof StressInputError) throw new UsageError(e.message);
      throw e;
    }
    const report = reportOptions(a);
    const name = stressName(req);
    return await runTests({ command: "stress", report }, async (sink) => {
      sink.plan(1);
      const tty = process.stderr.isTTY ? terminalProgress(process.stderr, name) : undefined;
      const r = await executeStress(req, {
        note: (line) => {
          tty?.clear();
          sink.note(line);
        },
        progress: tty ? (d, t, l) => tty.update(d, t, l) : undefined,
        plant: plantsFromEnv(),
      });
      tty?.clear();
      sink.result({
        name,
        part: "stress",
        memory: mem.name,
        status: r.status,
        reason: r.status === "skip" ? r.reason : undefined,
        diagnostics: r.status === "fail" && r.reason ? [r.reason] : [],
      });
    });
  },
};

export default stress;
