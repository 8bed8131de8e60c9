// Run a host command for the QEMU scripts: its stdout as text, or an Error
// naming the command and its stderr.
export function run(cmd: string[], opts: { what: string; cwd?: string; stdin?: Uint8Array }): string {
  const p = Bun.spawnSync(cmd, { cwd: opts.cwd, stdin: opts.stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) {
    const err = p.stderr.toString().trim().split("\n").slice(-5).join("\n");
    throw new Error(`${opts.what} failed (exit ${p.exitCode ?? p.signalCode}): ${err}`);
  }
  return p.stdout.toString();
}

/** Install Debian packages for missing host tools (e.g. qemu-system-arm) with the system's apt. */
export function ensureTools(tools: Record<string, string>): void {
  const missing = Object.entries(tools)
    .filter(([exe]) => !Bun.which(exe))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  process.stderr.write(`installing ${missing.join(" ")}\n`);
  run(["apt-get", "install", "-y", "-q", "--no-install-recommends", ...new Set(missing)], {
    what: `apt-get install ${missing.join(" ")}`,
  });
}
