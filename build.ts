// Build dist/uffd-suite: one executable holding src/main.ts and every Worker
// entry of src/workers.ts. Usage: bun build.ts [--outfile PATH] [--target bun-linux-arm64]
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { WORKER_ENTRIES } from "./src/workers.ts";

const root = import.meta.dir;

function options(): { outfile: string; target?: string } {
  try {
    const { values } = parseArgs({
      options: { outfile: { type: "string" }, target: { type: "string" } },
      strict: true,
      allowPositionals: false,
    });
    return { outfile: resolve(values.outfile ?? join(root, "dist/uffd-suite")), target: values.target };
  } catch (e) {
    process.stderr.write(`build.ts: ${(e as Error).message}\n`);
    process.exit(2);
  }
}

/** Entrypoints relative to the repository root: main, then every Worker (a binary without one would fail at run time). */
function entrypoints(): string[] {
  const workers = Object.entries(WORKER_ENTRIES).map(([name, path]) => ({ name, file: `./${join("src", path)}` }));
  const missing = workers.filter((w) => !existsSync(join(root, w.file)));
  if (missing.length > 0) {
    process.stderr.write(`build.ts: Worker entry missing: ${missing.map((w) => `${w.name} (${w.file})`).join(", ")}\n`);
    process.exit(1);
  }
  return ["./src/main.ts", ...workers.map((w) => w.file)];
}

const { outfile, target } = options();
const args = [
  "build",
  "--compile",
  "--format=esm",
  "--bytecode",
  // Each command's modules in their own chunk, loaded when it runs: `--version`
  // and a case process's start-up do not load the rest.
  "--splitting",
  // The binary runs in testers' folders: their .env or bunfig.toml must not change it.
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  ...(target ? [`--target=${target}`] : []),
  `--outfile=${outfile}`,
  ...entrypoints(),
];
const started = performance.now();
const proc = Bun.spawnSync([process.execPath, ...args], { cwd: root, stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) {
  process.stderr.write(`build.ts: bun build failed (exit ${proc.exitCode})\n`);
  process.exit(1);
}
const size = Bun.file(outfile).size;
process.stderr.write(
  `built ${relative(process.cwd(), outfile) || outfile}: ${size} bytes in ${Math.round(performance.now() - started)} ms\n`,
);
