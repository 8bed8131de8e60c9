// The one table of libc calls the suite makes. Every other module reaches the
// kernel through these symbols; nothing above src/sys imports bun:ffi.
import { dlopen, FFIType } from "bun:ffi";

const { i32, u32, i64, u64, ptr } = FFIType;
const i64n = FFIType.i64_fast;
const u64n = FFIType.u64_fast;

export const libcSymbols = {
  syscall: { args: [i64, i64, i64, i64, i64, i64], returns: i64n },
  ioctl: { args: [i32, u64, ptr], returns: i32 },
  mmap: { args: [ptr, u64, i32, i32, i32, i64], returns: u64n },
  munmap: { args: [ptr, u64], returns: i32 },
  mremap: { args: [ptr, u64, u64, i32, ptr], returns: u64n },
  mprotect: { args: [ptr, u64, i32], returns: i32 },
  madvise: { args: [ptr, u64, i32], returns: i32 },
  memfd_create: { args: [ptr, u32], returns: i32 },
  ftruncate: { args: [i32, i64], returns: i32 },
  fallocate: { args: [i32, i32, i64, i64], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  read: { args: [i32, ptr, u64], returns: i64n },
  pread: { args: [i32, ptr, u64, i64], returns: i64n },
  write: { args: [i32, ptr, u64], returns: i64n },
  pipe2: { args: [ptr, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  fcntl: { args: [i32, i32, i64], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  open: { args: [ptr, i32, i32], returns: i32 },
  pthread_mutex_init: { args: [ptr, ptr], returns: i32 },
  pthread_mutex_lock: { args: [ptr], returns: i32 },
  pthread_mutex_unlock: { args: [ptr], returns: i32 },
  sysconf: { args: [i32], returns: i64n },
  getpid: { args: [], returns: i32 },
  kill: { args: [i32, i32], returns: i32 },
  waitpid: { args: [i32, ptr, i32], returns: i32 },
  memset: { args: [ptr, i32, u64], returns: ptr },
  memcpy: { args: [ptr, ptr, u64], returns: ptr },
  sched_yield: { args: [], returns: i32 },
  sched_setaffinity: { args: [i32, u64, ptr], returns: i32 },
  __errno_location: { args: [], returns: ptr },
} as const;

function openLibc() {
  const names = ["libc.so.6", "libc.so"];
  let last: unknown;
  for (const name of names) {
    try {
      return dlopen(name, libcSymbols);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`cannot load the C library (${String(last)})`);
}

type Arg = number | ArrayBufferView | null;
type AddressReturning = "mmap" | "mremap";
/** Pointers go in as numbers or typed arrays; results come back as numbers (mmap/mremap: a BigInt on failure). */
export type Libc = {
  readonly [K in keyof typeof libcSymbols]: (...args: Arg[]) => K extends AddressReturning ? number | bigint : number;
};

/** libc, loaded once per thread (each Worker has its own module instance). */
export const libc = openLibc().symbols as unknown as Libc;
