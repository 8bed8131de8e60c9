// sigbus, sigbus-wp: UFFD_FEATURE_SIGBUS. Every first touch of a missing
// page raises SIGBUS instead of queueing a fault; the signal path copies the
// page in (and, for -wp, unprotects it on the write's SIGBUS) and the access
// is retried. Then the pages are released and a forked child (EVENT_FORK, so
// it inherits the registration with a uffd of its own) must take SIGBUS on
// every access while the handler, following the fork, sees no fault at all.
import { runFaultJob } from "../../harness/native-fault.ts";
import type { ServeResult } from "../../harness/protocol.ts";
import { COUNT_OFFSET, RUN_SEED, TAG_OFFSET, tagText } from "../../harness/source.ts";
import { childCountSigbus } from "../../sys/native.ts";
import type { FeatureName } from "../../uffd/constants.ts";
import { IOCTL } from "../../uffd/structs.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { planted } from "./beyond-kit.ts";
import { caseLimitMs } from "../../harness/limits.ts";

const JOB_MS = 60_000;
const CHILD_MS = 30_000;

async function sigbus(t: CaseRun, wp: boolean): Promise<void> {
  const ctx = t.context();
  ctx.register({ missing: true, wp });
  const split = Math.ceil(ctx.pages / 2);

  // 1. This process, from a Worker: SIGBUS, COPY in the signal path, retry.
  // Each page's counter, then its tag, must be that page's.
  const expected = Float64Array.from(ctx.countVerify);
  if (planted(t, "counter")) expected[split - 1] = expected[split - 1]! + 1;
  const r = await runFaultJob(
    ctx,
    "sigbus-resolve",
    {
      uffd: ctx.uffd.fd,
      dst: ctx.dst.addr,
      src: ctx.src.addr,
      pages: split,
      pageSize: ctx.pageSize,
      countOffset: COUNT_OFFSET,
      expected,
      wp,
      // Planted (tests only): a request the uffd does not know in place of UFFDIO_COPY, so the signal path's copy fails.
      ioctls: { copy: planted(t, "sigbus-ioctl") ? ~IOCTL.COPY : IOCTL.COPY, wake: IOCTL.WAKE, writeProtect: IOCTL.WRITEPROTECT },
      tag: { offset: TAG_OFFSET, seed: RUN_SEED },
      // Planted (tests only): the signal path copies the next source page (split < pages, so there is one).
      sourceShift: planted(t, "sigbus-wrong-page") ? 1 : 0,
    },
    { timeoutMs: caseLimitMs(JOB_MS) },
  );
  t.note(`in-process: ${r.sigbus} SIGBUS taken, ${r.copied} of ${split} pages copied in by the signal path`);
  if (r.error) throw new Error(r.error);
  t.check(r.verdict !== "repeated", "a missing page signalled again right after it was copied in", {
    expected: "one missing SIGBUS per page",
    seen: `page ${r.page} signalled twice`,
  });
  t.check(r.verdict !== "corrupt", `counter of page ${r.page} after SIGBUS and UFFDIO_COPY`, { expected: r.expected, seen: r.seen });
  if (r.verdict === "wrong-page") {
    t.check(false, `data of page ${r.page} after SIGBUS and UFFDIO_COPY`, {
      expected: `page ${r.page}'s`,
      seen: tagText(r.page!, r.seen!, RUN_SEED),
    });
  }
  // Planted (tests only), one per count: that count's check expects one more.
  t.equal("pages copied in by the SIGBUS path", r.copied, split + (planted(t, "copied-count") ? 1 : 0));
  if (wp) t.equal("SIGBUS taken (one missing and one write-protect per page)", r.sigbus, 2 * split + (planted(t, "sigbus-count") ? 1 : 0));

  // 2. A forked child on released pages: SIGBUS on every access, no userfault.
  if (!planted(t, "release")) ctx.dst.release();
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
  t.equal("fork events read by the handler", handlers.counters.total("fork"), 1 + (planted(t, "fork-count") ? 1 : 0));
  t.equal(
    "userfaults the handler saw",
    served.reduce((n, s) => n + s.faults, 0),
    planted(t, "userfault-count") ? 1 : 0,
  );
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
