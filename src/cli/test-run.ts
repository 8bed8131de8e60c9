// The tail every test command (unit, stress, wp-mremap, run) shares, once its
// arguments are parsed: open the report (--output is created now), start the
// run (an unfinished run's settings put back, signals handled), run into the
// result stream, then finish (environment check, totals, the document) and
// return the exit code of what was reported.
import { log } from "../log.ts";
import type { ResultSink } from "../report/result.ts";
import { startTestRun } from "./interrupt.ts";
import type { ReportOptions } from "./report-options.ts";
import { ReportOutput } from "./report-output.ts";

export interface TestRunOptions {
  /** The command, as the JSON/JUnit document names it. */
  readonly command: "unit" | "stress" | "wp-mremap" | "run";
  readonly report: ReportOptions;
  /** Log the counts on stderr at the end (info level). */
  readonly summary?: boolean;
}

export async function runTests(opts: TestRunOptions, body: (sink: ResultSink) => Promise<void>): Promise<number> {
  const started = performance.now();
  const output = ReportOutput.open(opts.report, opts.command);
  startTestRun(output);
  await body(output.sink);
  if (opts.summary) {
    const c = output.counts;
    log.info(`${opts.command}: ${c.pass} pass, ${c.fail} fail, ${c.skip} skip in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return await output.finish();
}
