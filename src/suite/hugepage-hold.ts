// A gigantic hugetlb page (1 GiB on x86_64) takes the kernel seconds to
// allocate, and uffd-wp-mremap needs one at the end of `run`. With cases side
// by side, a child process (`uffd-suite hugepage-hold`) reserves it while the
// unit cases run, under the same policy and record as any reservation, and
// gives it back when `run` closes its stdin (or dies).
import { within } from "../harness/settle.ts";
import type { Subprocess } from "bun";
import { selfCommand } from "../harness/self-exec.ts";

export interface HugepageHold {
  /** The page size held, in bytes. */
  readonly size: number;
  /** true once the child holds a page of its own; false when it could not (the run then reserves as usual). */
  readonly held: Promise<boolean>;
  /** Let the page go and wait for the child to end. */
  release(): Promise<void>;
}

const RELEASE_WAIT_MS = 30_000;

export function holdHugepage(size: number): HugepageHold {
  const child: Subprocess<"pipe", "pipe", "inherit"> = Bun.spawn([...selfCommand(), "hugepage-hold", "--kb", String(size / 1024)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  // Read stdout to its end (the child's exit): a stream left half read
  // keeps this process alive after the run.
  const held = new Promise<boolean>((resolve) => {
    (async () => {
      const dec = new TextDecoder();
      let text = "";
      for await (const chunk of child.stdout) {
        text += dec.decode(chunk, { stream: true });
        if (text.includes("\n")) resolve(text.split("\n")[0] === "held");
      }
      resolve(false);
    })().catch(() => resolve(false));
  });
  return {
    size,
    held,
    async release() {
      try {
        child.stdin.end();
      } catch {
        // already gone
      }
      // within() clears its timer: a sleep left pending would keep the run alive after its end.
      if (!(await within(child.exited, RELEASE_WAIT_MS))) child.kill("SIGTERM");
      await child.exited;
    },
  };
}
