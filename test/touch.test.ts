// The toucher's work (touch.ts), called on this thread on ordinary memory:
// the touches, the progress it records, the compare that names a wrong page,
// and the kernel-side ops.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { TouchJob } from "../src/harness/protocol.ts";
import { initSourcePages, RUN_SEED, TAG_OFFSET, writePageTags } from "../src/harness/source.ts";
import { describeMismatch, touch } from "../src/harness/touch.ts";
import { Errno } from "../src/sys/errno.ts";
import { close, gettid, pipe } from "../src/sys/fd.ts";
import { libc } from "../src/sys/libc.ts";
import { bytesAt, mmap, munmap, Scratch, toArrayBufferAt } from "../src/sys/mem.ts";

const PS = 4096;
const PAGES = 4;
const a = mmap(PAGES * PS);
const b = mmap(PAGES * PS);
afterAll(() => {
  munmap(a, PAGES * PS);
  munmap(b, PAGES * PS);
});

/** Whether `addr` is inside a mapping of this process. */
function mapped(addr: number): boolean {
  return readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .some((l) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
      return m !== null && parseInt(m[1]!, 16) <= addr && addr < parseInt(m[2]!, 16);
    });
}

const job = (extra: Partial<TouchJob>): TouchJob => ({ type: "touch", start: a, pages: PAGES, pageSize: PS, op: "read", ...extra });

/** a and b: the same tagged source pages. */
function twins(): { wa: Uint32Array; wb: Uint32Array } {
  bytesAt(a, PAGES * PS).fill(0);
  bytesAt(b, PAGES * PS).fill(0);
  initSourcePages(a, PAGES, PS);
  initSourcePages(b, PAGES, PS);
  return { wa: new Uint32Array(toArrayBufferAt(a, PAGES * PS)), wb: new Uint32Array(toArrayBufferAt(b, PAGES * PS)) };
}

describe("touching pages", () => {
  test("read: one byte per page, nothing changes", () => {
    twins();
    expect(touch(job({}))).toEqual({ touched: PAGES, mismatches: 0 });
    expect(touch(job({ pages: 2 }))).toEqual({ touched: 2, mismatches: 0 });
  });

  test("write: `value` at `offset` of every page, nowhere else", () => {
    bytesAt(a, PAGES * PS).fill(0);
    expect(touch(job({ op: "write", offset: 100, value: 7 }))).toEqual({ touched: PAGES, mismatches: 0 });
    const bytes = bytesAt(a, PAGES * PS);
    for (let p = 0; p < PAGES; p++) expect(bytes[p * PS + 100]).toBe(7);
    expect(bytes.reduce((n, x) => n + x, 0)).toBe(7 * PAGES);
    touch(job({ op: "write", pages: 1 }));
    expect(bytes[0]).toBe(0);
    bytes[0] = 5;
    touch(job({ op: "write", pages: 1 }));
    expect(bytes[0]).toBe(0);
  });

  test("progress: pages done, and the step each page completed in", () => {
    const progress = new Int32Array(new SharedArrayBuffer(4 * 4));
    Atomics.store(progress, 1, 9);
    touch(job({ progress: progress.buffer as SharedArrayBuffer }));
    // Slots for pages 0 and 1 only (the array is shorter than the pages).
    expect([...progress]).toEqual([PAGES, 9, 9, 9]);
    const long = new Int32Array(new SharedArrayBuffer(8 * 4));
    Atomics.store(long, 1, 3);
    touch(job({ pages: 2, progress: long.buffer as SharedArrayBuffer }));
    expect([...long]).toEqual([2, 3, 3, 3, 0, 0, 0, 0]);
  });

  test("reportTid: this thread's id", () => {
    expect(touch(job({ reportTid: true })).tid).toBe(gettid());
    expect("tid" in touch(job({}))).toBe(false);
  });
});

describe("compare", () => {
  test("the same pages: no mismatch", () => {
    twins();
    const r = touch(job({ compareWith: b }));
    expect(r).toEqual({ touched: PAGES, mismatches: 0 });
    expect(describeMismatch(r)).toBe("0 words differ");
  });

  test("a differing word: its page, offset, values; counted", () => {
    const { wa } = twins();
    wa[(2 * PS + 1000) >>> 2] = 0xdead;
    wa[(3 * PS + 8) >>> 2] = 1;
    const r = touch(job({ compareWith: b }));
    expect(r).toEqual({
      touched: PAGES,
      mismatches: 2,
      firstMismatch: { page: 2, offset: 1000, got: 0xdead, want: 0, wrongPage: undefined },
    });
    expect(describeMismatch(r)).toBe("2 words differ, first in page 2 at offset 1000: 0xdead instead of 0x0");
  });

  test("xor: every byte flipped is what is wanted", () => {
    const { wa } = twins();
    for (let i = 0; i < wa.length; i++) wa[i] = ~wa[i]! >>> 0;
    expect(touch(job({ compareWith: b, xor: 0xff })).mismatches).toBe(0);
    expect(touch(job({ compareWith: b })).mismatches).toBeGreaterThan(0);
  });

  test("a page holding another page's data is named, flipped or not", () => {
    const { wa } = twins();
    bytesAt(a + PS, PS).set(bytesAt(b + 3 * PS, PS));
    const r = touch(job({ compareWith: b }));
    expect(r.firstMismatch).toEqual({ page: 1, offset: TAG_OFFSET, got: 3, want: 1, wrongPage: "page 1 holds page 3's data" });
    expect(r.mismatches).toBe(1);
    expect(describeMismatch(r)).toBe("1 words differ: page 1 holds page 3's data");
    for (let i = 0; i < wa.length; i++) wa[i] = ~wa[i]! >>> 0;
    expect(touch(job({ compareWith: b, xor: 0xff })).firstMismatch?.wrongPage).toBe("page 1 holds page 3's data");
  });

  test("a zero page where a source page belongs holds no source page's data", () => {
    twins();
    bytesAt(a + 2 * PS, PS).fill(0);
    const r = touch(job({ compareWith: b }));
    expect(r.firstMismatch?.page).toBe(2);
    expect(r.firstMismatch?.wrongPage).toMatch(/^page 2 holds no source page's data/);
  });

  test("no tag talk where the reference is no tagged source", () => {
    const { wa, wb } = twins();
    // Reference without a seed (zeros), and one whose tag names another page.
    wb[(1 * PS + TAG_OFFSET + 4) >>> 2] = 0;
    wa[(1 * PS + TAG_OFFSET) >>> 2] = 2;
    expect(touch(job({ compareWith: b })).firstMismatch?.wrongPage).toBeUndefined();
    const { wa: wa2, wb: wb2 } = twins();
    wb2[(1 * PS + TAG_OFFSET) >>> 2] = 7;
    wa2[(1 * PS + TAG_OFFSET) >>> 2] = 2;
    expect(touch(job({ compareWith: b })).firstMismatch?.wrongPage).toBeUndefined();
    expect(RUN_SEED).not.toBe(0);
  });

  test("pages too small to hold a tag are compared word by word; one just big enough is named", () => {
    const { wa } = twins();
    wa[(TAG_OFFSET + 4096) >>> 2] = 9;
    const r = touch({ type: "touch", start: a, pages: 256, pageSize: 32, op: "read", compareWith: b });
    expect(r.firstMismatch).toMatchObject({ page: 129, offset: 24, wrongPage: undefined });
    const r63 = touch({ type: "touch", start: a, pages: 128, pageSize: TAG_OFFSET + 7, op: "read", compareWith: b });
    expect(r63.firstMismatch).toMatchObject({ page: 65, wrongPage: undefined });
    // Pages of exactly TAG_OFFSET + 8 bytes hold a tag.
    const small = TAG_OFFSET + 8;
    bytesAt(a, PAGES * PS).fill(0);
    bytesAt(b, PAGES * PS).fill(0);
    writePageTags(a, 8, small);
    writePageTags(b, 8, small);
    new Uint32Array(toArrayBufferAt(a, 8 * small))[(5 * small + TAG_OFFSET) >>> 2] = 6;
    expect(touch({ type: "touch", start: a, pages: 8, pageSize: small, op: "read", compareWith: b }).firstMismatch?.wrongPage).toBe(
      "page 5 holds page 6's data",
    );
  });
});

test("the tag is read only where a page can hold one (TAG_OFFSET + 8 bytes)", () => {
  // Pages of 32 and 48 bytes: the words a tag would have are in a later page;
  // made to look like another page's tag there, they must still not be read as one.
  for (const ps of [32, 48]) {
    const got = new Scratch(4096);
    const want = new Scratch(4096);
    const g = new Uint32Array(got.bytes.buffer, got.bytes.byteOffset, 1024);
    const w = new Uint32Array(want.bytes.buffer, want.bytes.byteOffset, 1024);
    const t = (ps + TAG_OFFSET) >>> 2;
    w[t] = 1;
    w[t + 1] = RUN_SEED;
    g[t] = 3;
    g[t + 1] = RUN_SEED;
    g[ps >>> 2] = 1;
    const r = touch({ type: "touch", start: got.addr, pages: (4096 / ps) >>> 0, pageSize: ps, op: "read", compareWith: want.addr });
    expect(r.firstMismatch).toMatchObject({ page: 1, offset: 0, wrongPage: undefined });
    got.dispose();
    want.dispose();
  }
});

describe("kernel-side ops", () => {
  test("write-fd: write(2) from every page at offset, len bytes", () => {
    twins();
    bytesAt(a, PAGES * PS).fill(0);
    for (let p = 0; p < PAGES; p++) bytesAt(a + p * PS + 10, 3).set([p, p + 1, p + 2]);
    const [r, w] = pipe();
    try {
      expect(touch(job({ op: "write-fd", fd: w, offset: 10, len: 3 }))).toEqual({ touched: PAGES, mismatches: 0, rc: 3 });
      const buf = new Scratch(64);
      const n = libc.read(r, buf.addr, 64);
      expect([...buf.bytes.subarray(0, Number(n))]).toEqual([0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5]);
      buf.dispose();
      expect(touch(job({ op: "write-fd", fd: w, pages: 1 }))).toEqual({ touched: 1, mismatches: 0, rc: 1 });
      // A write of 0 bytes is no failure.
      expect(touch(job({ op: "write-fd", fd: w, len: 0 }))).toEqual({ touched: PAGES, mismatches: 0, rc: 0 });
    } finally {
      close(r);
      close(w);
    }
    expect(touch(job({ op: "write-fd", fd: -1 }))).toEqual({ touched: 0, mismatches: 0, rc: -Errno.EBADF });
    expect(touch(job({ op: "write-fd" }))).toEqual({ touched: 0, mismatches: 0, rc: -Errno.EBADF });
  });

  test("munmap and mremap of the range; their errors as -errno", () => {
    const m = mmap(4 * PS);
    expect(touch({ type: "touch", start: m + 2 * PS, pages: 2, pageSize: PS, op: "mremap", newLen: PS })).toEqual({
      touched: 0,
      mismatches: 0,
      rc: 0,
    });
    expect(touch({ type: "touch", start: m, pages: 2, pageSize: PS, op: "munmap" })).toEqual({ touched: 0, mismatches: 0, rc: 0 });
    expect(mapped(m)).toBe(false);
    expect(mapped(m + 2 * PS)).toBe(true);
    expect(mapped(m + 3 * PS)).toBe(false);
    munmap(m + 2 * PS, PS);
    expect(touch({ type: "touch", start: m + 1, pages: 1, pageSize: PS, op: "munmap" }).rc).toBe(-Errno.EINVAL);
    expect(touch({ type: "touch", start: m + 1, pages: 1, pageSize: PS, op: "mremap" }).rc).toBe(-Errno.EINVAL);
    // Without newLen the length stays (a no-op on an unmapped range fails EFAULT).
    const n = mmap(2 * PS);
    expect(touch({ type: "touch", start: n, pages: 2, pageSize: PS, op: "mremap" }).rc).toBe(0);
    munmap(n, 2 * PS);
  });

  test("an unknown op is an error naming it", () => {
    expect(() => touch(job({ op: "frob" as TouchJob["op"] }))).toThrow("toucher: unknown op frob");
  });
});
