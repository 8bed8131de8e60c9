// The start of a command that runs tests: settings an unfinished run left
// are put back (machine/settings-journal.ts); then Ctrl-C, SIGTERM and SIGHUP.
// machine/signals.ts, on
// each signal, stops what registered with onInterrupt (case processes are
// killed and reaped) and puts every changed setting back; then, on the first
// signal, this ends the output (`Bail out! interrupted` after the results so
// far) and exits 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP). A second signal
// exits at once, still after restoring. Exiting ends every Worker with the
// process.
import { handleSignals, signalExitCode } from "../machine/signals.ts";
import { recoverAbandonedSettings } from "../machine/settings-journal.ts";
import type { ReportOutput } from "./report-output.ts";
import { watchStdoutReader } from "./stdout-reader.ts";
import { checkTmpdir } from "./tmpdir-check.ts";

/** Past this, exit even if stdout has not taken the last lines (a reader that stopped reading). */
const FLUSH_LIMIT_MS = 3000;

/**
 * The start of a command that runs tests: put back what an unfinished
 * (killed) run left, then bail out on signals as above.
 */
export function startTestRun(output: ReportOutput): void {
  // No usable state folder (as root): said once here; each change then refuses and its cases skip naming it.
  const unsafe = recoverAbandonedSettings();
  if (unsafe) process.stderr.write(`uffd-suite: ${unsafe}; the cases that need a change skip\n`);
  checkTmpdir();
  watchStdoutReader();
  handleSignals((signal, stopped) => {
    const code = signalExitCode(signal);
    process.exitCode = code;
    process.stderr.write(`uffd-suite: interrupted by ${signal}; settings restored, stopping\n`);
    setTimeout(() => process.exit(code), FLUSH_LIMIT_MS);
    // interrupt() drops whatever runners write from now on (a killed case is no result).
    const flushed = output.interrupt(signal);
    void Promise.allSettled([stopped, flushed]).finally(() => process.exit(code));
  });
}
