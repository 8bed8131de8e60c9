// ABI constants against the values of include/uapi/linux/userfaultfd.h of
// Linux 6.18 (as the kernel's own headers expand them on x86_64 and arm64),
// written out literally here, never derived from the code's own tables.
import { describe, expect, test } from "bun:test";
import { SYSCALLS, syscallTable, UnsupportedArchError } from "../src/sys/arch.ts";
import {
  EVENT,
  FEATURE,
  FEATURE_BITS,
  featureMask,
  IOCTL,
  IOCTL_NRS,
  IoctlSet,
  PAGEFAULT_FLAG,
  REGISTER_MODE,
  STRUCTS,
  UFFD_API,
  UFFD_MSG,
} from "../src/uffd/index.ts";
import {
  CONTINUE_MODE,
  COPY_MODE,
  MOVE_MODE,
  POISON_MODE,
  UFFD_USER_MODE_ONLY,
  WRITEPROTECT_MODE,
  ZEROPAGE_MODE,
} from "../src/uffd/constants.ts";

describe("ioctl numbers", () => {
  test.each([
    ["API", 0xc018aa3f],
    ["REGISTER", 0xc020aa00],
    ["UNREGISTER", 0x8010aa01],
    ["WAKE", 0x8010aa02],
    ["COPY", 0xc028aa03],
    ["ZEROPAGE", 0xc020aa04],
    ["MOVE", 0xc028aa05],
    ["WRITEPROTECT", 0xc018aa06],
    ["CONTINUE", 0xc020aa07],
    ["POISON", 0xc020aa08],
  ] as const)("UFFDIO_%s = %p", (name, value) => {
    expect(IOCTL[name]).toBe(value);
  });

  test("_UFFDIO_* command numbers", () => {
    expect(IOCTL_NRS).toEqual({
      REGISTER: 0x00,
      UNREGISTER: 0x01,
      WAKE: 0x02,
      COPY: 0x03,
      ZEROPAGE: 0x04,
      MOVE: 0x05,
      WRITEPROTECT: 0x06,
      CONTINUE: 0x07,
      POISON: 0x08,
      API: 0x3f,
    });
  });

  test("every ioctl the code knows is in this table", () => {
    expect(Object.keys(IOCTL).sort()).toEqual(
      ["API", "REGISTER", "UNREGISTER", "WAKE", "COPY", "ZEROPAGE", "MOVE", "WRITEPROTECT", "CONTINUE", "POISON", "DEV_NEW"].sort(),
    );
  });

  test("mode bits", () => {
    expect(COPY_MODE).toEqual({ DONTWAKE: 1, WP: 2 });
    expect(ZEROPAGE_MODE).toEqual({ DONTWAKE: 1 });
    expect(WRITEPROTECT_MODE).toEqual({ WP: 1, DONTWAKE: 2 });
    expect(CONTINUE_MODE).toEqual({ DONTWAKE: 1, WP: 2 });
    expect(POISON_MODE).toEqual({ DONTWAKE: 1 });
    expect(MOVE_MODE).toEqual({ DONTWAKE: 1, ALLOW_SRC_HOLES: 2 });
    expect(UFFD_USER_MODE_ONLY).toBe(1);
  });

  test("USERFAULTFD_IOC_NEW = 0xAA00", () => {
    expect(IOCTL.DEV_NEW).toBe(0xaa00);
  });

  test("UFFD_API = 0xAA", () => {
    expect(UFFD_API).toBe(0xaa);
  });
});

describe("struct sizes", () => {
  test.each([
    ["uffdio_api", 24],
    ["uffdio_range", 16],
    ["uffdio_register", 32],
    ["uffdio_copy", 40],
    ["uffdio_zeropage", 32],
    ["uffdio_writeprotect", 24],
    ["uffdio_continue", 32],
    ["uffdio_poison", 32],
    ["uffdio_move", 40],
  ] as const)("%s is %d bytes", (name, size) => {
    expect(STRUCTS[name].size).toBe(size);
  });

  test("uffd_msg is 32 bytes, its fields where the kernel puts them", () => {
    expect(UFFD_MSG.size).toBe(32);
    expect(UFFD_MSG.off).toMatchObject({ event: 0, flags: 8, address: 16, ptid: 24, ufd: 8, from: 8, to: 16, len: 24, start: 8, end: 16 });
  });

  test("result fields sit after the range and mode", () => {
    expect(STRUCTS.uffdio_copy.off.copy).toBe(32);
    expect(STRUCTS.uffdio_zeropage.off.zeropage).toBe(24);
    expect(STRUCTS.uffdio_continue.off.mapped).toBe(24);
    expect(STRUCTS.uffdio_poison.off.updated).toBe(24);
    expect(STRUCTS.uffdio_move.off.move).toBe(32);
    expect(STRUCTS.uffdio_register.off.ioctls).toBe(24);
  });
});

describe("feature bits", () => {
  /**
   * The UFFD_FEATURE_* values of include/uapi/linux/userfaultfd.h (Linux
   * 6.18), written out here by hand, not derived from FEATURE_BITS: two
   * swapped names in the code's table fail this.
   */
  const UAPI_6_18: ReadonlyArray<readonly [string, number]> = [
    ["PAGEFAULT_FLAG_WP", 1 << 0],
    ["EVENT_FORK", 1 << 1],
    ["EVENT_REMAP", 1 << 2],
    ["EVENT_REMOVE", 1 << 3],
    ["MISSING_HUGETLBFS", 1 << 4],
    ["MISSING_SHMEM", 1 << 5],
    ["EVENT_UNMAP", 1 << 6],
    ["SIGBUS", 1 << 7],
    ["THREAD_ID", 1 << 8],
    ["MINOR_HUGETLBFS", 1 << 9],
    ["MINOR_SHMEM", 1 << 10],
    ["EXACT_ADDRESS", 1 << 11],
    ["WP_HUGETLBFS_SHMEM", 1 << 12],
    ["WP_UNPOPULATED", 1 << 13],
    ["POISON", 1 << 14],
    ["WP_ASYNC", 1 << 15],
    ["MOVE", 1 << 16],
  ];

  test.each(UAPI_6_18)("UFFD_FEATURE_%s = %p", (name, value) => {
    expect(FEATURE[name as keyof typeof FEATURE]).toBe(value);
    expect(featureMask([name as (typeof FEATURE_BITS)[number]])).toBe(BigInt(value));
  });

  test("exactly these 17, each at its bit", () => {
    expect(FEATURE_BITS.length).toBe(17);
    expect(Object.keys(FEATURE).sort()).toEqual(UAPI_6_18.map(([n]) => n).sort());
    expect(FEATURE_BITS.map((n, i): [string, number] => [n, 2 ** i])).toEqual(UAPI_6_18.map(([n, v]): [string, number] => [n, v]));
  });

  test("masks and unknown bits", () => {
    expect(featureMask(["MOVE", "POISON"])).toBe(0x14000n);
    const set = new IoctlSet((1n << 3n) | (1n << 40n));
    expect(set.known()).toEqual(["COPY"]);
    expect(set.unknown()).toBe(1n << 40n);
    expect(set.toString()).toBe("COPY|0x10000000000");
  });
});

describe("events and flags", () => {
  test("event codes 0x12..0x16", () => {
    expect(EVENT).toEqual({ PAGEFAULT: 0x12, FORK: 0x13, REMAP: 0x14, REMOVE: 0x15, UNMAP: 0x16 });
  });

  test("pagefault flags, register modes, ioctl bit numbers", () => {
    expect(PAGEFAULT_FLAG).toEqual({ WRITE: 1, WP: 2, MINOR: 4 });
    expect(REGISTER_MODE).toEqual({ MISSING: 1, WP: 2, MINOR: 4 });
    expect(IOCTL_NRS).toMatchObject({
      REGISTER: 0,
      UNREGISTER: 1,
      WAKE: 2,
      COPY: 3,
      ZEROPAGE: 4,
      MOVE: 5,
      WRITEPROTECT: 6,
      CONTINUE: 7,
      POISON: 8,
      API: 0x3f,
    });
  });
});

describe("system call numbers", () => {
  test("x86_64", () => {
    expect(syscallTable("x64")).toMatchObject({ userfaultfd: 323, memfd_create: 319, gettid: 186 });
  });

  test("arm64", () => {
    expect(syscallTable("arm64")).toMatchObject({ userfaultfd: 282, memfd_create: 279, gettid: 178 });
  });

  test("this machine's architecture is known", () => {
    expect(SYSCALLS[process.arch]).toBeDefined();
  });

  test("an unknown architecture is a clear error", () => {
    expect(() => syscallTable("mips")).toThrow(UnsupportedArchError);
    expect(() => syscallTable("mips")).toThrow("unsupported architecture 'mips': system call numbers are known for x64, arm64");
  });
});
