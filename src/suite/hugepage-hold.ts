// A gigantic hugetlb page (1 GiB on x86_64) takes the kernel seconds to
// allocate, and uffd-wp-mremap needs one at the end of `run`. With cases side
// by side, a child process (`uffd-suite hugepage-hold`) reserves it while the
// unit cases run, under the same policy and record as any reservation, and
// gives it back when `run` closes its stdin (or dies).
import { LineReader } from "../harness/lines.ts";
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
  // Its first line is the answer; then stdout is read to its end (the
  // child's exit): a stream left half read keeps this process alive.
  const lines = new LineReader(child.stdout);
  const held = lines.next().then(
    (first) => first === "held",
    () => false,
  );
  const drained = held.then(async () => {
    while ((await lines.next()) !== undefined) {
      // nothing more is said
    }
  });
  drained.catch(() => {});
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
