// uffd-suite: the kernel's userfaultfd selftests. Entry point of the binary.
import { root } from "./cli/root.ts";
import { runCli } from "./cli/run-cli.ts";
import { guardStdout } from "./cli/stdout-guard.ts";

guardStdout();
process.exitCode = await runCli(root, process.argv.slice(2));
// Exit by running out of work, so a piped stdout drains (process.exit cuts it
// at 64 KiB); a handle left open must not keep us alive, though.
setTimeout(() => process.exit(), 5000).unref();
