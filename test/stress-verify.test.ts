// The stress verify pass and bounce modes, on memory laid out as the
// source is: a page with another page's tag, one with no tag, a wrong
// counter, and the count of wrong pages are each reported.
import { afterAll, expect, test } from "bun:test";
import { COUNT_OFFSET, initSourcePages, RUN_SEED, TAG_OFFSET } from "../src/harness/source.ts";
import { mmap, munmap, toArrayBufferAt } from "../src/sys/mem.ts";
import { BOUNCE, bounceModeLabel } from "../src/stress/protocol.ts";
import { firstSequentialPage, verifyPages } from "../src/stress/verify.ts";

const PS = 4096;
const PAGES = 8;
const addr = mmap(PAGES * PS);
afterAll(() => munmap(addr, PAGES * PS));

function fresh(): { words: Uint32Array; verify: Float64Array } {
  new Uint8Array(toArrayBufferAt(addr, PAGES * PS)).fill(0);
  const verify = initSourcePages(addr, PAGES, PS);
  return { words: new Uint32Array(toArrayBufferAt(addr, PAGES * PS)), verify };
}
const at = (page: number, off: number) => (page * PS + off) >>> 2;

test("a right area passes, counters bumped on both sides included", () => {
  const { words, verify } = fresh();
  expect(verifyPages(addr, PAGES, PS, verify)).toBeUndefined();
  words[at(3, COUNT_OFFSET)] = 7;
  verify[3] = 7;
  // A counter above 2^32: both words count.
  words[at(5, COUNT_OFFSET) + 1] = 1;
  verify[5] = 2 ** 32 + 1;
  expect(verifyPages(addr, PAGES, PS, verify)).toBeUndefined();
  words[at(5, COUNT_OFFSET) + 1] = 2;
  expect(verifyPages(addr, PAGES, PS, verify)).toBe(`page 5 counter ${2 * 2 ** 32 + 1}, expected ${2 ** 32 + 1}`);
});

test("a wrong counter names the page, what it holds and what was expected", () => {
  const { words, verify } = fresh();
  words[at(6, COUNT_OFFSET)] = 2;
  expect(verifyPages(addr, PAGES, PS, verify)).toBe("page 6 counter 2, expected 1");
  words[at(7, COUNT_OFFSET)] = 3;
  expect(verifyPages(addr, PAGES, PS, verify)).toBe("page 6 counter 2, expected 1 (2 pages wrong)");
  words[at(0, COUNT_OFFSET)] = 0;
  expect(verifyPages(addr, PAGES, PS, verify)).toBe("page 0 counter 0, expected 1 (3 pages wrong)");
});

test("a page holding another page's data says whose", () => {
  const { words, verify } = fresh();
  words[at(2, TAG_OFFSET)] = 3;
  expect(verifyPages(addr, PAGES, PS, verify)).toBe("page 2 holds page 3's data");
  // Its counter wrong as well: the page is named by whose data it holds.
  words[at(2, COUNT_OFFSET)] = 9;
  expect(verifyPages(addr, PAGES, PS, verify)).toBe("page 2 holds page 3's data");
  // Another run's page (another seed), and a zero page.
  words[at(4, TAG_OFFSET) + 1] = RUN_SEED ^ 2;
  expect(verifyPages(addr, PAGES, PS, verify)).toBe("page 2 holds page 3's data (2 pages wrong)");
  const { words: w2, verify: v2 } = fresh();
  w2.fill(0, at(1, 0), at(2, 0));
  v2[1] = 0;
  expect(verifyPages(addr, PAGES, PS, v2)).toMatch(
    /^page 1 holds no source page's data \(tag 0x0000000000000000, expected 0x[0-9a-f]{8}00000001\)$/,
  );
});

test("bounce mode words, as the C prints them", () => {
  expect(BOUNCE).toEqual({ random: 1, racing: 2, verify: 4, poll: 8 });
  expect(bounceModeLabel(0)).toBe("read");
  expect(bounceModeLabel(1)).toBe("rnd read");
  expect(bounceModeLabel(2)).toBe("racing read");
  expect(bounceModeLabel(4)).toBe("ver read");
  expect(bounceModeLabel(8)).toBe("poll");
  expect(bounceModeLabel(15)).toBe("rnd racing ver poll");
  expect(bounceModeLabel(31)).toBe("rnd racing ver poll");
});

test("the sequential walk starts where the C's unsigned arithmetic puts it", () => {
  // bounce 0: page_nr = -0 = 0, plus the group's slice, then +1.
  expect(firstSequentialPage(0, 0, 1024, 2048)).toBe(1);
  expect(firstSequentialPage(0, 1, 1024, 2048)).toBe(1025);
  // bounce 2 (racing): no slice offset; (2^64 - 2 + 1) mod 2048 = 2047.
  expect(firstSequentialPage(2, 1, 1024, 2048)).toBe(2047);
  // bounce 4: 2^64 - 4 + 1024 + 1 mod 2048 = 1021; a page count that is no power of two: 2^64 mod 3 = 1.
  expect(firstSequentialPage(4, 1, 1024, 2048)).toBe(1021);
  expect(firstSequentialPage(4, 0, 1, 3)).toBe((1 - 4 + 1 + 3 * 10) % 3);
  // 2^64 - 1 + 1 wraps to 0 (bounce 1, no slice: group 0).
  expect(firstSequentialPage(1, 0, 1024, 2048)).toBe(0);
  expect(firstSequentialPage(3, 5, 7, 11)).toBe(Number(((1n << 64n) - 3n + 1n) % 11n));
  // 2^64 - 1 + 5 + 1 wraps at 2^64 to 5.
  expect(firstSequentialPage(1, 1, 5, 11)).toBe(5);
});
