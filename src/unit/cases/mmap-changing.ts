// mmap-changing (shmem): while a REMOVE event sits unread, the resolving
// ioctls must refuse to touch the mm: COPY, ZEROPAGE, MOVE, POISON and
// CONTINUE each fail with EAGAIN and write -EAGAIN into their result field.
// MADV_REMOVE raises the event and blocks until it is read, so a syscall
// Worker makes that call; this thread waits until the uffd is readable (the
// event is queued and mmap_changing is raised), tries the ioctls, then reads
// the event, which lets the madvise return. Afterwards a COPY must work again.
import { madviseInWorker } from "../../harness/madvise-job.ts";
import { waitReadable } from "../../harness/readable.ts";
import { Errno, errnoName } from "../../sys/errno.ts";
import { MADV } from "../../sys/mem.ts";
import type { Uffd } from "../../uffd/uffd.ts";
import type { CaseRun, UnitCase } from "../case.ts";
import { caseLimitMs } from "../../harness/limits.ts";

function result(r: number): string {
  return r < 0 ? `-${errnoName(-r)}` : String(r);
}

export const mmapChangingCases: readonly UnitCase[] = [
  {
    name: "mmap-changing",
    description: "while a REMOVE event is unread, COPY/ZEROPAGE/MOVE/POISON/CONTINUE fail with EAGAIN and write -EAGAIN to their result",
    memory: ["shmem"],
    features: ["EVENT_REMOVE", "MOVE", "POISON", "MINOR_SHMEM"],
    origin: "kernel",
    async run(t: CaseRun) {
      const ctx = t.context();
      const ps = ctx.pageSize;
      ctx.register({ missing: true });
      // Page 0 is removed; the ioctls aim at page 1.
      const madv = await madviseInWorker(ctx.pool, { addr: ctx.dst.addr, len: ps }, MADV.REMOVE);
      const queued = await waitReadable(ctx.uffd.fd, { timeoutMs: caseLimitMs(10_000), giveUp: madv.settled });
      if (!queued) {
        const early = madv.settled() ? `madvise returned (errno ${await madv.done}) without waiting` : "nothing queued after 10 s";
        t.check(false, "REMOVE event from MADV_REMOVE on a registered page", {
          expected: "queued on the uffd, madvise waiting",
          seen: early,
        });
      }
      const u: Uffd = ctx.uffd;
      const dst = ctx.dst.addr + ps;
      const src = ctx.src.addr + ps;
      const want = t.planted.plant.has("errno") ? -Errno.EINVAL : -Errno.EAGAIN;
      const tries: Array<[string, () => number]> = [
        ["UFFDIO_COPY", () => u.tryCopy(dst, src, ps, 0)],
        ["UFFDIO_ZEROPAGE", () => u.tryZeropage(dst, ps)],
        ["UFFDIO_MOVE", () => u.tryMove(dst, src, ps, 0)],
        ["UFFDIO_POISON", () => u.tryPoison(dst, ps)],
        ["UFFDIO_CONTINUE", () => u.tryContinue(dst, ps)],
      ];
      const failures: string[] = [];
      for (const [name, call] of tries) {
        const rc = call();
        const res = u.lastResult;
        if (rc !== want || res !== want) {
          failures.push(`${name}: ${rc === 0 ? "succeeded" : `failed with ${errnoName(-rc)}`}, result ${result(res)}`);
        }
      }
      // Let the madvise finish whatever happened above.
      const events = u.readEvents();
      const madvErr = await madv.done;
      t.check(failures.length === 0, "resolving ioctls while the REMOVE event is unread", {
        expected: `each fails with ${errnoName(-want)}, result ${result(want)}`,
        seen: failures.join("; "),
      });
      const ev = events[0];
      t.check(events.length === 1 && ev?.type === "remove" && ev.start === ctx.dst.addr && ev.end === ctx.dst.addr + ps, "event read", {
        expected: `one remove event 0x${ctx.dst.addr.toString(16)}-0x${(ctx.dst.addr + ps).toString(16)}`,
        seen: JSON.stringify(events),
      });
      t.check(madvErr === 0, "MADV_REMOVE once the event was read", { expected: "returns 0", seen: `fails with ${errnoName(madvErr)}` });
      // The event consumed and the madvise done, the mm is stable again: COPY must work.
      const rc = u.tryCopy(dst, src, ps, 0);
      t.check(rc === 0 && u.lastResult === ps, "UFFDIO_COPY after the event was read", {
        expected: `succeeds, result ${ps}`,
        seen: `${rc === 0 ? "succeeds" : `fails with ${errnoName(-rc)}`}, result ${result(u.lastResult)}`,
      });
    },
  },
];
