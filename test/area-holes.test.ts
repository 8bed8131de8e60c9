// An Area whose test unmapped part of it (a hole) must not, when disposed,
// unmap what another thread of the process mapped into that hole meanwhile:
// that took memory from under Bun (its heap, a Worker's stack) and crashed it
// at random later (seen as SIGSEGV in events-unmap case processes). The
// foreign mapping is made here directly with MAP_FIXED_NOREPLACE, as Bun's
// allocator could have.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Area, MEMORY } from "../src/harness/memory.ts";
import { MAP, mmap, munmap, PAGE_SIZE, PROT } from "../src/sys/mem.ts";

/** Whether [addr, addr+len) is one mapping in /proc/self/maps. */
function mapped(addr: number, len: number): boolean {
  const maps = readFileSync("/proc/self/maps", "utf8");
  return maps.split("\n").some((l) => {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
    return m !== null && parseInt(m[1]!, 16) <= addr && parseInt(m[2]!, 16) >= addr + len;
  });
}

describe("Area holes", () => {
  test("dispose leaves a mapping another thread put into a hole; refill will not replace it", () => {
    const area = Area.allocate(MEMORY.anon, 8 * PAGE_SIZE);
    const hole = area.addr + 2 * PAGE_SIZE;
    area.unmap(hole, 2 * PAGE_SIZE);
    const foreign = mmap(PAGE_SIZE, { addr: hole, prot: PROT.READ | PROT.WRITE, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED_NOREPLACE });
    expect(foreign).toBe(hole);
    expect(area.refill(hole, 2 * PAGE_SIZE)).toBe(false);
    const start = area.addr;
    area.dispose();
    expect(mapped(foreign, PAGE_SIZE)).toBe(true);
    expect(mapped(start, PAGE_SIZE)).toBe(false);
    expect(mapped(hole + 2 * PAGE_SIZE, PAGE_SIZE)).toBe(false);
    munmap(foreign, PAGE_SIZE);
  });

  test("a hole nobody took is refilled and unmapped with the rest", () => {
    const area = Area.allocate(MEMORY.anon, 8 * PAGE_SIZE);
    const hole = area.addr + 4 * PAGE_SIZE;
    area.unmap(hole, PAGE_SIZE);
    expect(mapped(hole, PAGE_SIZE)).toBe(false);
    expect(area.refill(hole, PAGE_SIZE)).toBe(true);
    expect(mapped(hole, PAGE_SIZE)).toBe(true);
    area.dispose();
    expect(mapped(hole, PAGE_SIZE)).toBe(false);
  });
});
