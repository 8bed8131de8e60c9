// `uffd-suite run` (also what the binary does with no command): the
// userfaultfd set of run_vmtests.sh — unit catalogue, uffd-stress on every
// memory type, uffd-wp-mremap — as one KTAP document on stdout.
import type { CommandDef } from "citty";
import { terminalProgress } from "../stress/cli-run.ts";
import { runVmtests } from "../suite/vmtests.ts";
import { reportArgs, reportOptions } from "./report-options.ts";
import { runTests } from "./test-run.ts";
import { parseJobs, parseTimeout } from "./values.ts";

const args = {
  setup: {
    type: "boolean",
    default: true,
    description: "Reserve huge pages and switch THP sizes (as root), restoring them after",
    negativeDescription: "Change nothing on the system: what needs more huge pages or THP changes skips",
  },
  wp: {
    type: "boolean",
    default: true,
    description: "Stress write-protect as well in the stress runs (on by default)",
    negativeDescription: "Stress runs without write-protect (as the upstream C since 6.17)",
  },
  timeout: { type: "string", valueHint: "S", description: "Seconds each unit case may run before it is killed (default 60, at least 1)" },
  jobs: {
    type: "string",
    alias: "j",
    valueHint: "N",
    description:
      "Unit cases run side by side, and the stress runs without huge pages beside them (default: the CPUs this process may use; 1: all one after another)",
  },
  ...reportArgs,
} as const;

const run: CommandDef<typeof args> = {
  meta: {
    name: "run",
    description: "Run the userfaultfd tests of run_vmtests.sh (unit tests, stress on every memory type, wp-mremap): KTAP on stdout",
  },
  args,
  async run({ args: a }) {
    const unitTimeoutS = parseTimeout(a.timeout);
    const jobs = parseJobs(a.jobs);
    return await runTests({ command: "run", report: reportOptions(a), summary: true }, async (sink) => {
      await runVmtests({
        sink,
        setup: a.setup,
        wp: a.wp,
        unitTimeoutS,
        jobs,
        progress: process.stderr.isTTY ? (label) => terminalProgress(process.stderr, label) : undefined,
      });
    });
  },
};

export default run;
