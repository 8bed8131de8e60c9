// uffd-suite: the kernel's userfaultfd selftests. Entry point of the binary.
// `--version` is answered before anything else loads, with a plain write(2):
// it must cost no more than starting the runtime (process.stdout alone, the
// stream, costs about 10 ms to set up). Every other command line goes to the CLI.
import { writeSync } from "node:fs";
import { VERSION } from "./cli/version.ts";

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  try {
    writeSync(1, `${VERSION}\n`);
  } catch (e) {
    process.stderr.write(`uffd-suite: cannot write the version to stdout: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    process.exitCode = 1;
  }
} else {
  // Bun 1.4.4 on arm64 crashes at random in our Worker and FFI loops (SIGSEGV at
  // 0x2B4, abort(), a trap in JIT code, a "BigInt" TypeError on plain numbers)
  // while its optimizing JIT tier (JSC's FTL) is on (README, "arm64"). JSC reads
  // the option at start-up only, so start again with it set; case processes and
  // Workers inherit it. --version above needs no restart.
  if (process.arch === "arm64") (await import("./sys/reexec.ts")).reexecWithEnv({ BUN_JSC_useFTLJIT: "0" });
  const [{ root }, { runCli }, { guardStdout }] = await Promise.all([
    import("./cli/root.ts"),
    import("./cli/run-cli.ts"),
    import("./cli/stdout-guard.ts"),
  ]);
  guardStdout();
  process.exitCode = await runCli(root, argv);
  // Exit by running out of work, so a piped stdout drains (process.exit cuts it
  // at 64 KiB); a handle left open must not keep us alive, though.
  setTimeout(() => process.exit(), 5000).unref();
}
