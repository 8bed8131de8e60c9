// userfaultfd ABI constants, from include/uapi/linux/userfaultfd.h as of Linux 6.18.
// Declared once, as tables; test/abi.test.ts checks them against known values.

export const UFFD_API = 0xaa;
/** Flag for userfaultfd(2) and USERFAULTFD_IOC_NEW: only user-mode faults are handled. */
export const UFFD_USER_MODE_ONLY = 1;

/** Feature bits, by bit number. Order matters: the index is the bit. */
export const FEATURE_BITS = [
  "PAGEFAULT_FLAG_WP", // 0
  "EVENT_FORK", // 1
  "EVENT_REMAP", // 2
  "EVENT_REMOVE", // 3
  "MISSING_HUGETLBFS", // 4
  "MISSING_SHMEM", // 5
  "EVENT_UNMAP", // 6
  "SIGBUS", // 7
  "THREAD_ID", // 8
  "MINOR_HUGETLBFS", // 9
  "MINOR_SHMEM", // 10
  "EXACT_ADDRESS", // 11
  "WP_HUGETLBFS_SHMEM", // 12
  "WP_UNPOPULATED", // 13
  "POISON", // 14
  "WP_ASYNC", // 15
  "MOVE", // 16
] as const;
export type FeatureName = (typeof FEATURE_BITS)[number];

/** Feature name -> mask. */
export const FEATURE = Object.freeze(Object.fromEntries(FEATURE_BITS.map((n, i) => [n, 2 ** i]))) as Readonly<Record<FeatureName, number>>;

/** ioctl command numbers (the _UFFDIO_* values); bit N of an ioctl set means command N is offered. */
export const IOCTL_NRS = {
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
} as const;
export type IoctlName = keyof typeof IOCTL_NRS;

export const REGISTER_MODE = { MISSING: 1, WP: 2, MINOR: 4 } as const;
export const COPY_MODE = { DONTWAKE: 1, WP: 2 } as const;
export const ZEROPAGE_MODE = { DONTWAKE: 1 } as const;
export const WRITEPROTECT_MODE = { WP: 1, DONTWAKE: 2 } as const;
export const CONTINUE_MODE = { DONTWAKE: 1, WP: 2 } as const;
export const POISON_MODE = { DONTWAKE: 1 } as const;
export const MOVE_MODE = { DONTWAKE: 1, ALLOW_SRC_HOLES: 2 } as const;

export const EVENT = {
  PAGEFAULT: 0x12,
  FORK: 0x13,
  REMAP: 0x14,
  REMOVE: 0x15,
  UNMAP: 0x16,
} as const;

export const PAGEFAULT_FLAG = { WRITE: 1, WP: 2, MINOR: 4 } as const;
