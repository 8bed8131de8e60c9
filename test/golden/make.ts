// Writes the golden files of test/output-unchanged.test.ts from a reference
// binary: each command of GOLDEN_COMMANDS in each format, normalized
// (test/support/golden.ts), plus machine.json, the machine they hold for.
//
// Regenerate (as root, on the machine the test runs on, from the binary
// built before the change whose output must not move):
//   git stash; bun build.ts; cp dist/uffd-suite /tmp/uffd-suite-before; git stash pop
//   bun test/golden/make.ts /tmp/uffd-suite-before
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { GOLDEN_COMMANDS, GOLDEN_FORMATS, machineKey, normalize } from "../support/golden.ts";

const binary = process.argv[2];
if (!binary) {
  process.stderr.write("usage: bun test/golden/make.ts BINARY\n");
  process.exit(2);
}
for (const c of GOLDEN_COMMANDS) {
  for (const f of GOLDEN_FORMATS) {
    const p = Bun.spawnSync([binary, ...c.args, "--format", f.format], { stdout: "pipe", stderr: "pipe" });
    writeFileSync(join(import.meta.dir, `${c.stem}.${f.ext}`), normalize(f.ext, p.stdout.toString()));
    writeFileSync(join(import.meta.dir, `${c.stem}.${f.ext}.code`), `${p.exitCode}\n`);
    process.stderr.write(`${c.args.join(" ")} --format ${f.format}: exit ${p.exitCode}\n`);
  }
}
writeFileSync(join(import.meta.dir, "machine.json"), `${JSON.stringify(machineKey(), null, 2)}\n`);
