// sigbus, sigbus-wp: UFFD_FEATURE_SIGBUS. Every first touch of a missing
// page raises SIGBUS instead of queueing a fault; the signal path copies the
// page in (and, for -wp, unprotects it on the write's SIGBUS) and the access
// is retried. Then the pages are released and a forked child (EVENT_FORK, so
// it inherits the registration with a uffd of its own) must take SIGBUS on
// every access while the handler, following the fork, sees no fault at all.
import { runFaultJob } from "../../harness/native-fault.ts";
import type { ServeResult } from "../../harness/protocol.ts";
import { COUNT_OFFSET } from "../../harness/source.ts";
import { childCountSigbus } from "../../sys/native.ts";
import type { FeatureName } from "../../uffd/constants.ts";
import { IOCTL } from "../../uffd/structs.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { caseLimitMs } from "../limits.ts";

const JOB_MS = 60_000;
const CHILD_MS = 30_000;

async function sigbus(t: CaseRun, wp: boolean): Promise<void> {
  const ctx = t.context();
  ctx.register({ missing: true, wp });
  const split = Math.ceil(ctx.pages / 2);

  // 1. This process, from a Worker: SIGBUS, COPY in the signal path, retry.
  const expected = Float64Array.from(ctx.countVerify);
  if (t.planted.plant.has("counter")) expected[split - 1] = expected[split - 1]! + 1;
  const r = await runFaultJob(ctx, "sigbus-resolve", {
    uffd: ctx.uffd.fd, dst: ctx.dst.addr, src: ctx.src.addr, pages: split, pageSize: ctx.pageSize,
    countOffset: COUNT_OFFSET, expected, wp,
    ioctls: { copy: IOCTL.COPY, wake: IOCTL.WAKE, writeProtect: IOCTL.WRITEPROTECT },
  }, { timeoutMs: caseLimitMs(JOB_MS) });
  t.note(`in-process: ${r.sigbus} SIGBUS taken, ${r.copied} of ${split} pages copied in by the signal path`);
  if (r.error) throw new Error(r.error);
  t.check(r.verdict !== "repeated", "a missing page signalled again right after it was copied in", {
    expected: "one missing SIGBUS per page", seen: `page ${r.page} signalled twice`,
  });
  t.check(r.verdict === "ok", `counter of page ${r.page} after SIGBUS and UFFDIO_COPY`, { expected: r.expected, seen: r.seen });
  t.equal("pages copied in by the SIGBUS path", r.copied, split);
  if (wp) t.equal("SIGBUS taken (one missing and one write-protect per page)", r.sigbus, 2 * split);

  // 2. A forked child on released pages: SIGBUS on every access, no userfault.
  if (!t.planted.plant.has("release")) ctx.dst.release();
  const handlers = await ctx.startHandlers({ onFork: "follow", applyWp: wp });
  let child;
  let served: ServeResult[] = [];
  try {
    child = await childCountSigbus(
      { addr: ctx.dst.addr, len: split * ctx.pageSize, step: ctx.pageSize, offset: COUNT_OFFSET, access: "read" },
      { timeoutMs: caseLimitMs(CHILD_MS) },
    );
  } finally {
    served = await ctx.stopHandlers();
  }
  t.equal("accesses that raised SIGBUS in the forked child", child.count, split);
  t.equal("fork events read by the handler", handlers.counters.total("fork"), 1);
  t.equal("userfaults the handler saw", served.reduce((n, s) => n + s.faults, 0), 0);
}

function row(name: string, wp: boolean): UnitCase {
  const features: FeatureName[] = ["SIGBUS", "EVENT_FORK"];
  if (wp) features.push("PAGEFAULT_FLAG_WP", "WP_HUGETLBFS_SHMEM");
  return {
    name,
    description: `UFFD_FEATURE_SIGBUS: SIGBUS on missing${wp ? " and write-protected" : ""} pages, resolved in the signal path; a forked child gets SIGBUS and no userfault`,
    memory: ALL_MEMORY,
    features,
    origin: "kernel",
    run: (t) => sigbus(t, wp),
  };
}

export const sigbusCases: readonly UnitCase[] = [row("sigbus", false), row("sigbus-wp", true)];
