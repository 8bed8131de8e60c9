// The signal/interrupt hub: SIGINT, SIGTERM and SIGHUP (and abortRun()) stop
// what registered with onInterrupt (case processes are killed and reaped),
// then run every restorer (restore.ts registers the one that puts changed
// machine settings back) before the process exits; a second signal still
// restores before exiting. Process exit runs the restorers too. Once a
// signal has come, interrupted() says which, and work refuses to start.

/** A listener may return a promise: the end of what it stopped (a child reaped). */
// biome-ignore lint/suspicious/noConfusingVoidType: a listener that returns nothing is the common case
type SignalListener = (signal: NodeJS.Signals) => void | Promise<unknown>;
/** Puts something back; returns what could not be (one line each). */
type Restorer = () => string[];

let hooked = false;
const signalListeners: SignalListener[] = [];
const restorers: Restorer[] = [];
/** The first SIGINT/SIGTERM/SIGHUP received, and how many so far. */
let received: NodeJS.Signals | undefined;
let signalCount = 0;
/** What ends the process after the first signal (else: exit at once). */
let firstSignalExit: ((signal: NodeJS.Signals, stopped: Promise<unknown>) => void) | undefined;

export const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The shell's code for death by `signal`: 128 + its number (130, 143, 129). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 129;
}

/** The exit code of a run ended by abortRun() (its output lost), else undefined. */
let abortCode: number | undefined;

/** The exit code of a run that was stopped (by a signal, or by abortRun()), else undefined. */
export function stopExitCode(): number | undefined {
  if (abortCode !== undefined) return abortCode;
  return received ? signalExitCode(received) : undefined;
}

/** The first interrupting signal received, or undefined while none has come. */
export function interrupted(): NodeJS.Signals | undefined {
  return received;
}

/** Thrown by work that refuses to start once interrupted. */
export class InterruptedError extends Error {
  override readonly name = "InterruptedError";
}

/** Run `fn` when SIGINT/SIGTERM/SIGHUP arrives, before settings are restored and the process exits. */
export function onInterrupt(fn: SignalListener): void {
  signalListeners.push(fn);
  hookSignals();
}

/** Run `fn` on every signal (after the onInterrupt listeners) and at process exit. */
export function onRestore(fn: Restorer): void {
  restorers.push(fn);
}

/**
 * Catch SIGINT/SIGTERM/SIGHUP from now on. Each one runs the onInterrupt
 * listeners and the restorers; then the first one calls `exit`
 * with a promise that settles once what the listeners stopped has ended
 * (`exit` finishes the output and ends the process with signalExitCode()),
 * and any later one exits at once. Without `exit`, the first one exits too.
 */
export function handleSignals(exit?: (signal: NodeJS.Signals, stopped: Promise<unknown>) => void): void {
  firstSignalExit = exit;
  hookSignals();
}

function restoreEverything(): string[] {
  return restorers.flatMap((fn) => fn());
}

/** Stop what registered with onInterrupt and put every setting back; returns the ends of what was stopped. */
function stopAndRestore(sig: NodeJS.Signals): Array<Promise<unknown>> {
  const stopping: Array<Promise<unknown>> = [];
  for (const fn of signalListeners) {
    try {
      const p = fn(sig);
      if (p) stopping.push(p);
    } catch {
      // keep going: restoring matters more
    }
  }
  const failures = restoreEverything();
  if (failures.length > 0) process.stderr.write(`uffd-suite: could not restore ${failures.join("; ")}\n`);
  return stopping;
}

/**
 * End the run now, as a signal would but with no report (its output is
 * lost): no more cases start and nothing more is changed, case processes
 * are killed, every setting is put back, and the process exits with `code`
 * once they have ended (at most `limitMs` later).
 */
export function abortRun(code: number, limitMs = 500): void {
  if (abortCode !== undefined) return;
  abortCode = code;
  received ??= "SIGPIPE";
  process.exitCode = code;
  hookSignals();
  const stopping = stopAndRestore("SIGPIPE");
  setTimeout(() => process.exit(code), limitMs);
  void Promise.allSettled(stopping).finally(() => process.exit(code));
}

function onSignal(sig: NodeJS.Signals): void {
  signalCount++;
  received ??= sig;
  const stopping = stopAndRestore(sig);
  if (abortCode !== undefined) process.exit(abortCode);
  if (signalCount === 1 && firstSignalExit) {
    try {
      firstSignalExit(sig, Promise.allSettled(stopping));
      return;
    } catch {
      // fall through: exit now
    }
  }
  process.exit(signalExitCode(sig));
}

/** Listen for the signals and for process exit (once). */
export function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => restoreEverything());
  for (const sig of SIGNALS) process.on(sig, () => onSignal(sig));
}
