// Writes the golden files of test/output-unchanged.test.ts from a reference
// binary: each command of GOLDEN_COMMANDS in each format, normalized
// (test/support/golden.ts), with its exit code, plus machine.json, the machine
// they hold for (the test skips elsewhere, naming the difference).
//
// The files here come from the binary of commit 607426b (before issue 15's
// result stream). To take them again (as root, on the machine the test is to
// compare on, from the binary built before the change whose output must not
// move):
//   git worktree add /tmp/before <commit> && (cd /tmp/before && npm install && npx bun build.ts)
//   bun test/golden/make.ts /tmp/before/dist/uffd-suite
//   git worktree remove /tmp/before
// Then read the diff: a change in a name, verdict or diagnostic is what the
// test exists to catch; only a change of machine should move these files.
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
