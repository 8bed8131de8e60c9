// Per-handler counters (a SharedArrayBuffer, Atomics) and the C's stats line.
import { expect, test } from "bun:test";
import { COUNTER, HandlerCounters, SLOT, statsLine } from "../src/harness/counters.ts";

test("each counter has its own slot, per handler", () => {
  expect(SLOT).toBe(Object.keys(COUNTER).length);
  expect(SLOT).toBe(8);
  expect(new Set(Object.values(COUNTER)).size).toBe(SLOT);
  const c = new HandlerCounters(3);
  expect(c.handlers).toBe(3);
  expect(c.buffer.byteLength).toBe(3 * SLOT * 4);
  c.add(0, "missing");
  c.add(1, "missing", 5);
  c.add(2, "wp", 2);
  c.add(2, "wokenAfterRemove", 7);
  expect(c.get(0, "missing")).toBe(1);
  expect(c.get(1, "missing")).toBe(5);
  expect(c.get(2, "missing")).toBe(0);
  expect(c.get(2, "wp")).toBe(2);
  expect(c.get(1, "wp")).toBe(0);
  expect(c.total("missing")).toBe(6);
  expect(c.total("wokenAfterRemove")).toBe(7);
  expect(c.perHandler("missing")).toEqual([1, 5, 0]);
  expect(c.perHandler("wp")).toEqual([0, 0, 2]);
  // The layout the handler Workers write: handler h, counter k at h * SLOT + k.
  const raw = new Int32Array(c.buffer);
  expect(raw[1 * SLOT + COUNTER.missing]).toBe(5);
  expect(raw[2 * SLOT + COUNTER.wp]).toBe(2);
  c.reset();
  expect(c.total("missing") + c.total("wp") + c.total("wokenAfterRemove")).toBe(0);
});

test("counters over a buffer made elsewhere see its values", () => {
  const a = new HandlerCounters(2);
  a.add(1, "minor", 4);
  const b = new HandlerCounters(2, a.buffer);
  expect(b.buffer).toBe(a.buffer);
  expect(b.get(1, "minor")).toBe(4);
  b.add(0, "fork");
  expect(a.get(0, "fork")).toBe(1);
});

test("stats line: the C's format, zero kinds left out, no trailing blank", () => {
  const c = new HandlerCounters(2);
  expect(statsLine(c)).toBe("userfaults:");
  c.add(0, "missing", 3925);
  c.add(1, "missing", 2169);
  expect(statsLine(c)).toBe("userfaults: 6094 missing (3925+2169)");
  c.add(0, "wp", 5);
  c.add(1, "wp", 7);
  c.add(1, "minor", 1);
  expect(statsLine(c)).toBe("userfaults: 6094 missing (3925+2169) 12 wp (5+7) 1 minor (0+1)");
  c.reset();
  c.add(0, "minor", 2);
  expect(statsLine(c)).toBe("userfaults: 2 minor (2+0)");
});
