// File descriptors: open, close, read, write, pipes, poll, memfd.
import { check, Errno, lastErrno, SysError } from "./errno.ts";
import { libc } from "./libc.ts";
import { syscallTable } from "./arch.ts";

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
} as const;
export const POLL = { IN: 0x1, PRI: 0x2, OUT: 0x4, ERR: 0x8, HUP: 0x10, NVAL: 0x20 } as const;
export const F = { GETFL: 3, SETFL: 4 } as const;
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

export function open(path: string, flags: number, mode = 0o600): number {
  return check("open", libc.open(cstr(path), flags, mode), path);
}

/** open() that returns -errno instead of throwing. */
export function tryOpen(path: string, flags: number): number {
  const fd = libc.open(cstr(path), flags, 0);
  return fd < 0 ? -lastErrno() : fd;
}

export function close(fd: number): void {
  check("close", libc.close(fd));
}

/** Write a byte (used to wake poll loops through a stop pipe). */
export function writeByte(fd: number): void {
  const b = new Uint8Array(new ArrayBuffer(8));
  b[0] = 1;
  check("write", libc.write(fd, b, 1));
}

export function pipe(flags = O.CLOEXEC | O.NONBLOCK): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  check("pipe2", libc.pipe2(fds, flags));
  return [fds[0]!, fds[1]!];
}

const pollOne = new Int32Array(new ArrayBuffer(8));

/**
 * poll(2) one fd for `events`, up to `ms` (0: just look). The revents that
 * came, or 0 (none yet, or EINTR: the caller looks again).
 */
export function pollRevents(fd: number, events: number, ms: number): number {
  pollOne[0] = fd;
  pollOne[1] = events; // events, revents = 0
  const r = libc.poll(pollOne, 1, ms);
  if (r > 0) return pollOne[1]! >>> 16;
  if (r === 0) return 0;
  const err = lastErrno();
  if (err === Errno.EINTR) return 0;
  throw new SysError("poll", err);
}

/** flock(2); 0 or -errno (EAGAIN: LOCK_NB and someone else holds it). */
export function tryFlock(fd: number, op: number): number {
  return libc.flock(fd, op) < 0 ? -lastErrno() : 0;
}

export function setNonBlocking(fd: number, on: boolean): void {
  const fl = check("fcntl", libc.fcntl(fd, F.GETFL, 0));
  check("fcntl", libc.fcntl(fd, F.SETFL, on ? fl | O.NONBLOCK : fl & ~O.NONBLOCK));
}

export function memfdCreate(name: string, flags: number): number {
  return check("memfd_create", libc.memfd_create(cstr(name), flags), name);
}

export function ftruncate(fd: number, len: number): void {
  check("ftruncate", libc.ftruncate(fd, len));
}

export function fallocate(fd: number, mode: number, offset: number, len: number): void {
  check("fallocate", libc.fallocate(fd, mode, offset, len));
}

export function gettid(): number {
  return libc.syscall(syscallTable().gettid, 0, 0, 0, 0, 0);
}
