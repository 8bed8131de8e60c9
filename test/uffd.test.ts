// The typed userfaultfd API against the real kernel. Faults are always taken
// by a Worker; this thread serves them and never touches registered memory.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { release } from "node:os";
import { Area, MEMORY } from "../src/harness/memory.ts";
import { Errno, SysError } from "../src/sys/errno.ts";
import { bytesAt, PAGE_SIZE, Scratch } from "../src/sys/mem.ts";
import {
  decodeEvent,
  EVENT,
  FeatureSet,
  MissingFeatureError,
  PAGEFAULT_FLAG,
  probeFeatures,
  requireFeatures,
  Uffd,
  UffdIoctlError,
  UnknownEventError,
} from "../src/uffd/index.ts";
import { eventWithin, nextEvent, Toucher, within } from "./support/fault.ts";
import { Scope } from "./support/scope.ts";

const PAGE = PAGE_SIZE;
let scope = new Scope();
afterEach(async () => {
  await scope.close();
  scope = new Scope();
});

/** The error `fn` throws (the test fails if it throws nothing). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, none was thrown");
}

/** One anonymous page, registered in `modes` on a fresh fd. */
function registeredPage(modes: { missing?: boolean; wp?: boolean }, features: Parameters<typeof Uffd.create>[0] = {}) {
  const area = scope.memory(Area.allocate(MEMORY.anon, PAGE));
  const u = scope.uffd(Uffd.create(features));
  const ioctls = u.register({ start: area.addr, len: PAGE }, modes);
  return { area, u, ioctls };
}

/** A source page filled with a pattern. */
function patternPage(): { src: Scratch; pattern: number[] } {
  const src = scope.memory(new Scratch(PAGE));
  for (let i = 0; i < PAGE; i++) src.bytes[i] = (i * 7 + 3) & 0xff;
  return { src, pattern: Array.from(src.bytes) };
}

function kernelAtLeast(major: number, minor: number): boolean {
  const [maj = 0, min = 0] = release().split(/[.-]/).map(Number);
  return maj > major || (maj === major && min >= minor);
}

describe("open and handshake", () => {
  test("through the userfaultfd() system call", () => {
    const u = scope.uffd(Uffd.open({ via: "syscall" }));
    expect(u.via).toBe("syscall");
    const { ioctls, features } = u.api(0n);
    expect(ioctls.known()).toEqual(expect.arrayContaining(["API", "REGISTER", "UNREGISTER"]));
    expect(features.mask).not.toBe(0n);
  });

  test.skipIf(!existsSync("/dev/userfaultfd"))("through /dev/userfaultfd", () => {
    const u = scope.uffd(Uffd.open({ via: "dev" }));
    expect(u.via).toBe("dev");
    expect(u.api(0n).ioctls.known()).toEqual(expect.arrayContaining(["API", "REGISTER", "UNREGISTER"]));
  });

  test("create enables the features asked for", () => {
    const u = scope.uffd(Uffd.create({ features: ["EVENT_FORK", "PAGEFAULT_FLAG_WP"] }));
    expect(u.enabled.known()).toEqual(["PAGEFAULT_FLAG_WP", "EVENT_FORK"]);
    expect(u.ioctls.has("REGISTER")).toBe(true);
  });
});

describe("register", () => {
  test("anonymous memory offers COPY, ZEROPAGE, WAKE and WRITEPROTECT", () => {
    const { ioctls } = registeredPage({ missing: true, wp: true });
    for (const name of ["COPY", "ZEROPAGE", "WAKE", "WRITEPROTECT"] as const) expect(ioctls.has(name)).toBe(true);
    expect(ioctls.has("CONTINUE")).toBe(false);
  });

  test("minor mode on anonymous memory is EINVAL", () => {
    const area = scope.memory(Area.allocate(MEMORY.anon, PAGE));
    const u = scope.uffd(Uffd.create());
    const err = thrown(() => u.register({ start: area.addr, len: PAGE }, { minor: true }));
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).code).toBe("EINVAL");
  });
});

describe("faults served from another thread", () => {
  test("a missing fault in a Worker is resolved by COPY", async () => {
    const { area, u } = registeredPage({ missing: true });
    const { src, pattern } = patternPage();
    const t = scope.toucher(await Toucher.start());
    const read = t.touch({ op: "read", addr: area.addr + 100, len: 16 });
    const ev = await nextEvent(u);
    expect(ev).toMatchObject({ type: "pagefault", kind: "missing", write: false, address: area.addr });
    expect(u.copy(area.addr, src.addr, PAGE)).toBe(PAGE);
    expect((await within(read, 2000, "read after COPY")).bytes).toEqual(pattern.slice(100, 116));
  });

  test("COPY with DONTWAKE leaves the Worker waiting until WAKE", async () => {
    const { area, u } = registeredPage({ missing: true });
    const { src, pattern } = patternPage();
    const t = scope.toucher(await Toucher.start());
    let done = false;
    const read = t.touch({ op: "read", addr: area.addr, len: 8 }).then((r) => {
      done = true;
      return r;
    });
    await nextEvent(u);
    expect(u.copy(area.addr, src.addr, PAGE, { dontWake: true })).toBe(PAGE);
    await Bun.sleep(100);
    expect(done).toBe(false);
    u.wake({ start: area.addr, len: PAGE });
    expect((await within(read, 2000, "read after WAKE")).bytes).toEqual(pattern.slice(0, 8));
  });

  test("ZEROPAGE maps a zero page; a second one is EEXIST", async () => {
    const { area, u } = registeredPage({ missing: true });
    expect(u.zeropage({ start: area.addr, len: PAGE })).toBe(PAGE);
    const t = scope.toucher(await Toucher.start());
    // Mapped now: the Worker reads without faulting (a fault would time this out).
    const reply = await within(t.touch({ op: "read", addr: area.addr, len: PAGE }), 2000, "read of the zero page");
    expect(reply.bytes.every((b) => b === 0)).toBe(true);
    expect(reply.bytes.length).toBe(PAGE);
    expect(u.readEvents()).toEqual([]);
    const err = thrown(() => u.zeropage({ start: area.addr, len: PAGE }));
    expect(err).toBeInstanceOf(UffdIoctlError);
    expect((err as UffdIoctlError).errno).toBe(Errno.EEXIST);
    expect((err as UffdIoctlError).result).toBe(-Errno.EEXIST);
  });

  test("a write to a write-protected page raises a wp fault; unprotect resolves it", async () => {
    const area = scope.memory(Area.allocate(MEMORY.anon, PAGE));
    bytesAt(area.addr, PAGE).fill(0x11); // populate before registering
    const u = scope.uffd(Uffd.create({ features: ["PAGEFAULT_FLAG_WP"] }));
    const range = { start: area.addr, len: PAGE };
    u.register(range, { wp: true });
    u.writeProtect(range, { wp: true });
    const t = scope.toucher(await Toucher.start());
    const write = t.touch({ op: "write", addr: area.addr + 8, value: 0x5a });
    const ev = await nextEvent(u);
    expect(ev).toMatchObject({ type: "pagefault", kind: "wp", write: true, address: area.addr });
    if (ev.type === "pagefault") expect(ev.flags & PAGEFAULT_FLAG.WP).toBe(PAGEFAULT_FLAG.WP);
    u.writeProtect(range, { wp: false });
    expect((await within(write, 2000, "write after unprotect")).bytes).toEqual([0x5a]);
    expect(await eventWithin(u, 20)).toBeUndefined();
    u.unregister(range);
    const page = bytesAt(area.addr, 16);
    expect(page[8]).toBe(0x5a);
    expect(page[0]).toBe(0x11);
  });
});

describe("event decoding", () => {
  /** A uffd_msg at byte `at` of a zeroed buffer, written field by field. */
  function msg(code: number, fields: Array<[offset: number, value: bigint, bytes?: 4 | 8]>, at = 0): DataView {
    const v = new DataView(new ArrayBuffer(at + 32));
    v.setUint8(at, code);
    for (const [off, value, bytes = 8] of fields) {
      if (bytes === 8) v.setBigUint64(at + off, value, true);
      else v.setUint32(at + off, Number(value), true);
    }
    return v;
  }
  const ADDR = 0x7f12_3456_7000n;

  test("pagefault: missing, write, wp and minor, with the thread id", () => {
    expect(
      decodeEvent(
        msg(0x12, [
          [8, 0n],
          [16, ADDR],
          [24, 4321n, 4],
        ]),
      ),
    ).toEqual({
      type: "pagefault",
      kind: "missing",
      write: false,
      flags: 0,
      address: Number(ADDR),
      threadId: 4321,
    });
    expect(
      decodeEvent(
        msg(0x12, [
          [8, 1n],
          [16, ADDR],
        ]),
      ),
    ).toMatchObject({ kind: "missing", write: true });
    expect(
      decodeEvent(
        msg(0x12, [
          [8, 3n],
          [16, ADDR],
        ]),
      ),
    ).toMatchObject({ kind: "wp", write: true, flags: 3 });
    expect(
      decodeEvent(
        msg(0x12, [
          [8, 4n],
          [16, ADDR],
        ]),
      ),
    ).toMatchObject({ kind: "minor", write: false });
  });

  test("fork, remap, remove and unmap", () => {
    expect(decodeEvent(msg(EVENT.FORK, [[8, 9n, 4]]))).toEqual({ type: "fork", uffd: 9 });
    expect(
      decodeEvent(
        msg(EVENT.REMAP, [
          [8, ADDR],
          [16, ADDR + 0x10_0000n],
          [24, 0x2000n],
        ]),
      ),
    ).toEqual({
      type: "remap",
      from: Number(ADDR),
      to: Number(ADDR) + 0x10_0000,
      len: 0x2000,
    });
    expect(
      decodeEvent(
        msg(EVENT.REMOVE, [
          [8, ADDR],
          [16, ADDR + 0x3000n],
        ]),
      ),
    ).toEqual({
      type: "remove",
      start: Number(ADDR),
      end: Number(ADDR) + 0x3000,
    });
    expect(
      decodeEvent(
        msg(EVENT.UNMAP, [
          [8, ADDR],
          [16, ADDR + 0x1000n],
        ]),
      ),
    ).toEqual({
      type: "unmap",
      start: Number(ADDR),
      end: Number(ADDR) + 0x1000,
    });
  });

  test("a message at an offset of a batch", () => {
    expect(decodeEvent(msg(EVENT.FORK, [[8, 5n, 4]], 32), 32)).toEqual({ type: "fork", uffd: 5 });
  });

  test("an unknown event code is an UnknownEventError", () => {
    const err = thrown(() => decodeEvent(msg(0x17, [])));
    expect(err).toBeInstanceOf(UnknownEventError);
    expect((err as UnknownEventError).code).toBe(0x17);
    expect(err.message).toContain("0x17");
  });
});

describe("errors", () => {
  test("a bad API number is EINVAL", () => {
    const u = scope.uffd(Uffd.open());
    const err = thrown(() => u.api(0n, 0xab));
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).errno).toBe(Errno.EINVAL);
    expect(err.message).toContain("UFFDIO_API");
  });

  test("an unknown feature bit is EINVAL", () => {
    const u = scope.uffd(Uffd.open());
    expect((thrown(() => u.api(1n << 62n)) as SysError).code).toBe("EINVAL");
  });

  test("a second UFFDIO_API on one fd is EINVAL", () => {
    const u = scope.uffd(Uffd.open());
    u.api(0n);
    expect((thrown(() => u.api(0n)) as SysError).code).toBe("EINVAL");
  });

  test("a second COPY to the same page is an EEXIST UffdIoctlError", () => {
    const { area, u } = registeredPage({ missing: true });
    const { src } = patternPage();
    expect(u.copy(area.addr, src.addr, PAGE)).toBe(PAGE);
    const err = thrown(() => u.copy(area.addr, src.addr, PAGE));
    expect(err).toBeInstanceOf(UffdIoctlError);
    expect(err).toBeInstanceOf(SysError);
    expect((err as UffdIoctlError).code).toBe("EEXIST");
    expect((err as UffdIoctlError).result).toBe(-Errno.EEXIST);
    expect(err.message).toContain("UFFDIO_COPY");
  });

  test("MissingFeatureError names what a feature set lacks", () => {
    const have = FeatureSet.of(["EVENT_FORK", "MOVE"]);
    expect(() => requireFeatures(have, ["MOVE", "EVENT_FORK"])).not.toThrow();
    const one = thrown(() => requireFeatures(have, ["MOVE", "POISON"]));
    expect(one).toBeInstanceOf(MissingFeatureError);
    expect((one as MissingFeatureError).missing).toEqual(["POISON"]);
    expect(one.message).toBe("userfaultfd feature missing: POISON");
    const two = thrown(() => requireFeatures(have, ["POISON", "MINOR_SHMEM", "MOVE"]));
    expect(two.message).toBe("userfaultfd features missing: POISON, MINOR_SHMEM");
  });

  test("probeFeatures sees MOVE (6.8+) and POISON (6.6+)", () => {
    const f = probeFeatures();
    expect(f.has("EVENT_FORK")).toBe(true);
    if (kernelAtLeast(6, 6)) expect(f.has("POISON")).toBe(true);
    if (kernelAtLeast(6, 8)) expect(f.has("MOVE")).toBe(true);
  });
});
