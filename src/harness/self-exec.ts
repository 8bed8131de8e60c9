// The command line that starts this same program again: the compiled binary
// alone, or Bun plus src/main.ts when running from source (bun run, bun test).
import { fileURLToPath } from "node:url";

/** Running as the compiled executable (modules live under /$bunfs). */
function isCompiled(): boolean {
  return Bun.main.startsWith("/$bunfs/") || import.meta.path.startsWith("/$bunfs/");
}

export function selfCommand(): string[] {
  if (isCompiled()) return [process.execPath];
  return [process.execPath, fileURLToPath(new URL("../main.ts", import.meta.url))];
}

/**
 * For a process started by selfCommand(): once orphaned (its parent died
 * without killing it), end at once, Workers and all, rather than run on.
 */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && process.kill(process.pid, "SIGKILL"), 250).unref();
}
