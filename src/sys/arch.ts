// System call numbers per architecture, picked from process.arch. An
// architecture not listed gets a clear error instead of a wrong syscall.

export interface SyscallTable {
  readonly userfaultfd: number;
  readonly memfd_create: number;
  readonly gettid: number;
  readonly process_madvise: number;
  readonly pidfd_open: number;
}

export const SYSCALLS: Readonly<Record<string, SyscallTable>> = {
  x64: { userfaultfd: 323, memfd_create: 319, gettid: 186, process_madvise: 440, pidfd_open: 434 },
  arm64: { userfaultfd: 282, memfd_create: 279, gettid: 178, process_madvise: 440, pidfd_open: 434 },
};

/** sizeof(pthread_mutex_t) in glibc, per architecture. */
export const PTHREAD_MUTEX_SIZE: Readonly<Record<string, number>> = { x64: 40, arm64: 48 };

export class UnsupportedArchError extends Error {
  override readonly name = "UnsupportedArchError";
}

export function syscallTable(arch: string = process.arch): SyscallTable {
  const table = SYSCALLS[arch];
  if (!table) {
    throw new UnsupportedArchError(
      `unsupported architecture '${arch}': system call numbers are known for ${Object.keys(SYSCALLS).join(", ")}`,
    );
  }
  return table;
}
