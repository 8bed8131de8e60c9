// Running the host's tools for the matrix: a failure is one line naming the
// command and its last output, never a stack trace.
export class MatrixError extends Error {
  override readonly name = "MatrixError";
}

export interface RunOptions {
  readonly cwd?: string;
  /** Lower the priority (QEMU, lava-run): the machine is shared. */
  readonly nice?: boolean;
  readonly env?: Record<string, string>;
}

/** Run a command to completion; its stdout, or a MatrixError naming it. */
export function run(cmd: readonly string[], opts: RunOptions = {}): string {
  const argv = opts.nice ? ["nice", "-n", "5", ...cmd] : [...cmd];
  const p = Bun.spawnSync(argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) {
    const tail = `${p.stderr.toString()}${p.stdout.toString()}`.trim().split("\n").slice(-3).join(" | ");
    throw new MatrixError(`${cmd.join(" ")}: exit ${p.exitCode ?? p.signalCode}${tail ? `: ${tail}` : ""}`);
  }
  return p.stdout.toString();
}

/** Run a shell pipeline (sh -c). */
export function sh(script: string, opts: RunOptions = {}): string {
  return run(["sh", "-c", script], opts);
}
