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
  // Bun 1.4.4 on arm64 crashed at random in our case processes (SIGSEGV at
  // small addresses, a trap in JIT code, abort()) under QEMU's -cpu max, whose
  // SVE vectors are 512 bits by default; with 128-bit vectors, or SVE off, 0
  // crashes (README, "arm64"). The vector length of all threads and JSC's
  // options are fixed at start-up, so start again with the shortest vectors
  // and without JSC's FTL tier; case processes and Workers inherit both.
  // --version above needs no restart.
  if (process.arch === "arm64") {
    const { reexecWithEnv, shortenSveOnExec } = await import("./sys/reexec.ts");
    // UFFD_SUITE_REEXEC marks the second start, so it can never loop.
    const shortened = process.env.UFFD_SUITE_REEXEC === undefined && shortenSveOnExec();
    reexecWithEnv({ BUN_JSC_useFTLJIT: "0", UFFD_SUITE_REEXEC: "1" }, { always: shortened });
  }
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
