// `uffd-suite stress <mem> <MiB> <bounces>`: uffd-stress, as one KTAP result.
import type { CommandDef } from "citty";
import { executeStress, plantsFromEnv, stressName, stressRequest, terminalProgress } from "../stress/cli-run.ts";
import { StressInputError } from "../stress/geometry.ts";
import { MEMORY_NAMES } from "../harness/memory.ts";
import { KtapWriter } from "../report/ktap.ts";
import { EXIT } from "./exit.ts";
import { startTestRun } from "./interrupt.ts";
import { reportArgs, reportOptions } from "./report-options.ts";
import { ReportOutput } from "./report-output.ts";
import { UsageError } from "./usage-error.ts";

const args = {
  mem: { type: "positional", required: true, description: `Memory type: ${MEMORY_NAMES.join(", ")}` },
  mib: { type: "positional", required: true, description: "Size of each area in MiB" },
  bounces: { type: "positional", required: true, description: "Bounces (each moves every page once)" },
  wp: {
    type: "boolean", default: true,
    description: "Stress write-protect as well (on by default)",
    negativeDescription: "Leave write-protect out (as the upstream C since 6.17)",
  },
  "eexist-interval": {
    type: "string", valueHint: "S",
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
    let req;
    try {
      req = stressRequest({ mem: a.mem, mib: a.mib, bounces: a.bounces, wp: a.wp, eexistInterval: a["eexist-interval"] });
    } catch (e) {
      if (e instanceof StressInputError) throw new UsageError(e.message);
      throw e;
    }
    const report = reportOptions(a);
    const name = stressName(req);
    const output = ReportOutput.open(report, "stress");
    startTestRun(output);
    const ktap = new KtapWriter(output.write);
    ktap.plan(1);
    const tty = process.stderr.isTTY ? terminalProgress(process.stderr, name) : undefined;
    const r = await executeStress(req, {
      note: (line) => {
        tty?.clear();
        ktap.diagnostic([line]);
      },
      progress: tty ? (d, t, l) => tty.update(d, t, l) : undefined,
      plant: plantsFromEnv(),
    });
    tty?.clear();
    ktap.result(name, { status: r.status, reason: r.reason, diagnostics: r.status === "fail" && r.reason ? [r.reason] : [] });
    ktap.totals();
    if (!(await output.finish())) return EXIT.FAIL;
    return r.status === "pass" ? EXIT.OK : r.status === "skip" ? EXIT.NOTHING_RAN : EXIT.FAIL;
  },
};

export default stress;
