// uffd-suite: the kernel's userfaultfd selftests. Entry point of the binary.
import { root } from "./cli/root.ts";
import { runCli } from "./cli/run-cli.ts";
import { reexecWithEnv } from "./sys/reexec.ts";

// Bun 1.4.4 on arm64 crashes at random in our Worker and FFI loops (SIGSEGV at
// 0x2B4, abort(), a trap in JIT code, a "BigInt" TypeError on plain numbers)
// while its optimizing JIT tier (JSC's FTL) is on; with it off, none (README,
// "arm64"). JSC reads the option at start-up only, so start again with it set;
// case processes and Workers inherit it.
if (process.arch === "arm64") reexecWithEnv({ BUN_JSC_useFTLJIT: "0" });

process.exitCode = await runCli(root, process.argv.slice(2));
// Exit by running out of work, so a piped stdout drains (process.exit cuts it
// at 64 KiB); a handle left open must not keep us alive, though.
setTimeout(() => process.exit(), 5000).unref();
