// `uffd-suite wp-mremap [-l] [-f SUBSTR] [--no-setup] [--format F] [-o FILE]`: the kernel's
// uffd-wp-mremap (uffd-wp bits dropped by mremap without EVENT_REMAP), KTAP on stdout.
import type { CommandDef } from "citty";
import { log } from "../log.ts";
import { plantedFromEnv } from "../unit/run-case.ts";
import { caseName, planCases, runWpMremapAsync } from "../wp-mremap/run.ts";
import { hugetlbSizes, thpSizes } from "../machine/sizes.ts";
import { ktapOutcome } from "../report/ktap.ts";
import { EXIT, exitCodeOf } from "./exit.ts";
import { startTestRun } from "./interrupt.ts";
import { reportArgs, reportOptions } from "./report-options.ts";
import { ReportOutput } from "./report-output.ts";
import { UsageError } from "./usage-error.ts";

const args = {
  list: { type: "boolean", alias: "l", description: "List the cases and exit" },
  filter: { type: "string", alias: "f", valueHint: "SUBSTR", description: "Only cases whose name contains SUBSTR" },
  setup: {
    type: "boolean",
    default: true,
    description: "Switch THP sizes off/on and reserve one hugetlb page of each size (as root), restoring them after",
    negativeDescription: "Change nothing on the system: THP cases skip, hugetlb cases use free pages",
  },
  ...reportArgs,
} as const;

const wpMremap: CommandDef<typeof args> = {
  meta: { name: "wp-mremap", description: "Run uffd-wp-mremap: mremap must drop uffd-wp bits without EVENT_REMAP (KTAP on stdout)" },
  args,
  async run({ args: a }) {
    if (a.filter !== undefined && a.filter === "") throw new UsageError("-f wants a non-empty part of a case name");
    const report = reportOptions(a);
    const names = planCases({ thp: thpSizes(), hugetlb: hugetlbSizes() }).map(caseName)
      .filter((n) => a.filter === undefined || n.includes(a.filter));
    if (names.length === 0) throw new UsageError(`no wp-mremap case name contains '${a.filter}'`);
    if (a.list) {
      process.stdout.write(`${names.join("\n")}\n`);
      return EXIT.OK;
    }
    const plant = plantedFromEnv().plant;
    const out = ReportOutput.open(report, "wp-mremap");
    startTestRun(out);
    const s = await runWpMremapAsync({
      write: out.write,
      filter: a.filter,
      setup: a.setup,
      plant: { noWriteProtect: plant.has("pagemap-wp"), noMremap: plant.has("mremap") },
      // Tests only: a pause between cases, to interrupt the run in the middle.
      pauseMs: Number(process.env.UFFD_SUITE_TEST_PAUSE_MS) || undefined,
    });
    const settingsOk = await out.finish();
    log.info(`wp-mremap: ${s.counts.pass} pass, ${s.counts.fail} fail, ${s.counts.skip} skip in ${(s.ms / 1000).toFixed(1)} s`);
    if (!settingsOk) return EXIT.FAIL;
    return exitCodeOf(ktapOutcome(s.counts, s.planned));
  },
};

export default wpMremap;
