// The events case's verdict helpers on their own: how a failed child is
// described, which child stops an older kernel explains (hugetlb mremap
// before 5.16, MADV_DONTNEED on private hugetlb before 5.18), and the counts
// each outcome should show. The kernel here has both, so only these tests
// reach the older-kernel paths.
import { describe, expect, test } from "bun:test";
import { MEMORY } from "../src/harness/memory.ts";
import { RUN_SEED } from "../src/harness/source.ts";
import { Errno } from "../src/sys/errno.ts";
import type { EventsChildResult } from "../src/sys/native/forked.ts";
import { childFailure, expectedCounts, handlerNote, olderKernelStop } from "../src/unit/cases/events.ts";

const exited = (code: number) => ({ kind: "exited", code }) as const;
const tag = (page: number) => (BigInt(RUN_SEED) << 32n) | BigInt(page);

describe("childFailure", () => {
  test("a counter that differs: page, counter seen, counter expected", () => {
    expect(childFailure({ status: exited(1), stage: "second half", page: 7, seen: 1n, expected: 2n })).toBe(
      'content mismatch at stage "second half": page 7 counter 1, expected 2',
    );
  });
  test("a released page that is not zero: page, byte offset, value", () => {
    expect(childFailure({ status: exited(10), stage: "zero check", page: 3, seen: 255n, expected: 12n })).toBe(
      'a released page is not zero at stage "zero check": page 3 byte 12 is 255',
    );
  });
  test("another page's tag: whose data it is", () => {
    expect(childFailure({ status: exited(14), stage: "first half", page: 0, seen: tag(1), expected: tag(0) })).toBe(
      `a page holds another page's data at stage "first half": page 0 holds page 1's data`,
    );
    expect(childFailure({ status: exited(14) })).toMatch(/^a page holds another page's data: page 0 holds no source page's data/);
  });
  test("a failed call: its errno", () => {
    expect(childFailure({ status: exited(9), stage: "mremap", errno: Errno.EINVAL })).toBe('mremap failed at stage "mremap": EINVAL');
    expect(childFailure({ status: exited(6), stage: "release", errno: Errno.ENOMEM })).toBe('madvise failed at stage "release": ENOMEM');
  });
  test("no stage, no errno: the exit alone", () => {
    expect(childFailure({ status: exited(9) })).toBe("mremap failed");
    expect(childFailure({ status: { kind: "signaled", signal: 7, name: "SIGBUS", coreDumped: false }, stage: "first half" })).toBe(
      'killed by SIGBUS at stage "first half"',
    );
  });
  test("the details belong to their exit codes only", () => {
    // Exit 2 with a page and values: no counter, byte or tag text.
    expect(childFailure({ status: exited(2), page: 1, seen: 1n, expected: 2n })).toBe("bad arguments");
    expect(
      childFailure({
        status: { kind: "signaled", signal: 9, name: "SIGKILL", coreDumped: false },
        page: 1,
        seen: 1n,
        expected: 2n,
        errno: Errno.EIO,
      }),
    ).toBe("killed by SIGKILL: EIO");
  });
});

describe("olderKernelStop", () => {
  const stop = (stage: EventsChildResult["stage"], errno = Errno.EINVAL, code = 9): EventsChildResult => ({
    status: exited(code),
    stage,
    errno,
  });
  test("hugetlb mremap refused with EINVAL: remap and release left out", () => {
    for (const mem of [MEMORY.hugetlb, MEMORY["hugetlb-private"]]) {
      expect(olderKernelStop(mem, stop("mremap"))).toEqual({
        stage: "mremap",
        note: "mremap of hugetlb: EINVAL (hugetlb mremap came in Linux 5.16): remap and release left out, as the C suite of that time did",
      });
    }
  });
  test("MADV_DONTNEED refused on private hugetlb: release left out", () => {
    expect(olderKernelStop(MEMORY["hugetlb-private"], stop("release", Errno.EINVAL, 6))).toEqual({
      stage: "release",
      note: "MADV_DONTNEED on hugetlb: EINVAL (came in Linux 5.18): release left out, as the C suite of that time did",
    });
  });
  test("anything else is a failure, not an older kernel", () => {
    expect(olderKernelStop(MEMORY.hugetlb, stop("release", Errno.EINVAL, 6))).toBeUndefined(); // shared: MADV_REMOVE, always there
    expect(olderKernelStop(MEMORY.anon, stop("mremap"))).toBeUndefined();
    expect(olderKernelStop(MEMORY.shmem, stop("mremap"))).toBeUndefined();
    expect(olderKernelStop(MEMORY.hugetlb, stop("mremap", Errno.ENOMEM))).toBeUndefined();
    expect(olderKernelStop(MEMORY.hugetlb, stop("second half"))).toBeUndefined();
    expect(olderKernelStop(MEMORY["hugetlb-private"], stop("second half", Errno.EINVAL, 1))).toBeUndefined();
    expect(olderKernelStop(MEMORY.hugetlb, { status: exited(0), stage: "mremap", errno: Errno.EINVAL })).toBeUndefined();
    expect(
      olderKernelStop(MEMORY.hugetlb, {
        status: { kind: "signaled", signal: 7, name: "SIGBUS", coreDumped: false },
        stage: "mremap",
        errno: Errno.EINVAL,
      }),
    ).toBeUndefined();
  });
});

describe("expectedCounts", () => {
  test("a full run: one remap, at least one remove, every page touched", () => {
    expect(expectedCounts(9, undefined)).toEqual({ remap: 1, remove: 1, touched: 9, per: "one per page" });
  });
  test("stopped at the mremap: nothing moved or released, the first half touched", () => {
    expect(expectedCounts(9, { stage: "mremap" })).toEqual({ remap: 0, remove: 0, touched: 5, per: "one per page of the first half" });
  });
  test("stopped at the release: moved, not released, every page touched", () => {
    expect(expectedCounts(9, { stage: "release" })).toEqual({ remap: 1, remove: 0, touched: 9, per: "one per page" });
  });
});

describe("handlerNote", () => {
  const totals = (late: number) => (name: string) =>
    ({ missing: 5, wp: 4, fork: 1, remap: 2, remove: 3, wokenAfterRemove: late })[name] ?? 99;
  test("each count by its name", () => {
    expect(handlerNote(totals(0))).toBe("handler: 5 missing, 4 wp faults; events: 1 fork, 2 remap, 3 remove");
  });
  test("faults read after the REMOVE's unregister are said", () => {
    expect(handlerNote(totals(2))).toBe(
      "handler: 5 missing, 4 wp faults; events: 1 fork, 2 remap, 3 remove; 2 fault(s) read after the REMOVE's UFFDIO_UNREGISTER (resolve gave ENOENT; woken with UFFDIO_WAKE)",
    );
  });
});
