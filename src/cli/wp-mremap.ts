// `uffd-suite wp-mremap [-l] [-f SUBSTR] [--no-setup] [--format F] [-o FILE]`: the kernel's
// uffd-wp-mremap (uffd-wp bits dropped by mremap without EVENT_REMAP), KTAP on stdout.
import type { CommandDef } from "citty";
import { plantNames } from "../plants.ts";
import { caseName, planCases, runWpMremapAsync } from "../wp-mremap/run.ts";
import { hugetlbSizes, thpSizes } from "../machine/sizes.ts";
import { EXIT } from "./exit.ts";
import { reportArgs, reportOptions } from "./report-options.ts";
import { runTests } from "./test-run.ts";
import { UsageError } from "./usage-error.ts";
import { parseFilter } from "./values.ts";

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
    const filter = parseFilter(a.filter);
    const report = reportOptions(a);
    const names = planCases({ thp: thpSizes(), hugetlb: hugetlbSizes() })
      .map(caseName)
      .filter((n) => filter === undefined || n.includes(filter));
    if (names.length === 0) throw new UsageError(`no wp-mremap case name contains '${filter}'`);
    if (a.list) {
      process.stdout.write(`${names.join("\n")}\n`);
      return EXIT.OK;
    }
    const plant = new Set(plantNames());
    return await runTests({ command: "wp-mremap", report, summary: true }, async (sink) => {
      await runWpMremapAsync({
        sink,
        filter,
        setup: a.setup,
        plant: { noWriteProtect: plant.has("pagemap-wp"), noMremap: plant.has("mremap") },
        // Tests only: a pause between cases, to interrupt the run in the middle.
        pauseMs: Number(process.env.UFFD_SUITE_TEST_PAUSE_MS) || undefined,
      });
    });
  },
};

export default wpMremap;
