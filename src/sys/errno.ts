// errno: read on the calling thread right after the failing call, and named.
import { type Pointer, read } from "bun:ffi";
import { libc } from "./libc.ts";

/** Linux errno numbers (x86_64 and the asm-generic set used by aarch64 agree here). */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  15: "ENOTBLK",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  31: "EMLINK",
  32: "EPIPE",
  33: "EDOM",
  34: "ERANGE",
  35: "EDEADLK",
  36: "ENAMETOOLONG",
  37: "ENOLCK",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  61: "ENODATA",
  62: "ETIME",
  75: "EOVERFLOW",
  95: "EOPNOTSUPP",
  110: "ETIMEDOUT",
  125: "ECANCELED",
  133: "EHWPOISON",
};

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EINTR: "Interrupted system call",
  EIO: "Input/output error",
  EBADF: "Bad file descriptor",
  ECHILD: "No child processes",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EFAULT: "Bad address",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  ENODEV: "No such device",
  EINVAL: "Invalid argument",
  EMFILE: "Too many open files",
  ENOTTY: "Inappropriate ioctl for device",
  ENOSPC: "No space left on device",
  ESPIPE: "Illegal seek",
  EPIPE: "Broken pipe",
  ENOSYS: "Function not implemented",
  EOPNOTSUPP: "Operation not supported",
  ETIMEDOUT: "Connection timed out",
  EHWPOISON: "Memory page has hardware error",
};

export const Errno = Object.freeze(Object.fromEntries(Object.entries(ERRNO_NAMES).map(([n, name]) => [name, Number(n)]))) as Readonly<
  Record<string, number>
> & {
  readonly EPERM: number;
  readonly ENOENT: number;
  readonly EINTR: number;
  readonly EAGAIN: number;
  readonly ENOMEM: number;
  readonly EACCES: number;
  readonly EFAULT: number;
  readonly EBUSY: number;
  readonly EEXIST: number;
  readonly EINVAL: number;
  readonly ENOSYS: number;
  readonly ESRCH: number;
  readonly ENOTTY: number;
  readonly EOPNOTSUPP: number;
  readonly EBADF: number;
  readonly ECHILD: number;
  readonly EHWPOISON: number;
  readonly ENOSPC: number;
  readonly ENODEV: number;
  readonly EIO: number;
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E#${errno}`;
}

export function errnoText(errno: number): string {
  return ERRNO_TEXT[errnoName(errno)] ?? `errno ${errno}`;
}

// The errno slot is per thread and fixed for the thread's life: find it once
// in this thread (this module is instantiated per Worker).
const errnoSlot = libc.__errno_location();

/** The calling thread's errno. Call it immediately after the failing call. */
export function lastErrno(): number {
  return read.i32(errnoSlot as unknown as Pointer, 0);
}

/** A failed system or library call: which call, the errno by name and its text. */
export class SysError extends Error {
  override readonly name = "SysError";
  readonly call: string;
  readonly errno: number;
  readonly code: string;

  constructor(call: string, errno: number, detail?: string) {
    const code = errnoName(errno);
    super(`${call}${detail ? ` (${detail})` : ""}: ${code} (${errnoText(errno)})`);
    this.call = call;
    this.errno = errno;
    this.code = code;
  }
}

/** Throw a SysError for `call` with the current errno when `rc` is negative. */
export function check(call: string, rc: number, detail?: string): number {
  if (rc < 0) throw new SysError(call, lastErrno(), detail);
  return rc;
}
