// The libc entry points the run-time C sources may call, declared once.
//
// The sources are linked with no library at all (TinyCC's -nostdlib): a test
// machine often has only the C runtime (libc.so.6 and the loader), not the
// development files (libc.so, libc.a) a link needs. So each compiled unit gets
// a table of function pointers instead, filled from the libc this process has
// already loaded (dlsym), and the names below are macros over that table.
//
// Each row: the name the C calls, then its return type and parameters in C.
// The struct's field order is this table's order; nothing else depends on it.
export const NATIVE_LIBC_ENTRIES = [
  ["syscall", "long", "long nr, ..."],
  ["open", "int", "const char *path, int flags, ..."],
  ["close", "int", "int fd"],
  ["read", "ssize", "int fd, void *buf, usize len"],
  ["write", "ssize", "int fd, const void *buf, usize len"],
  ["pread", "ssize", "int fd, void *buf, usize len, long off"],
  ["ioctl", "int", "int fd, unsigned long req, ..."],
  ["madvise", "int", "void *addr, usize len, int advice"],
  ["mremap", "void *", "void *old, usize old_len, usize new_len, int flags, ..."],
  ["prctl", "int", "int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5"],
  ["nanosleep", "int", "const void *req, void *rem"],
  ["sigaction", "int", "int sig, const void *act, void *old"],
  ["sigprocmask", "int", "int how, const void *set, void *old"],
  // glibc's sigsetjmp is a macro over this one.
  ["__sigsetjmp", "int", "void *env, int savemask"],
  ["siglongjmp", "void", "void *env, int val"],
  ["__errno_location", "int *", "void"],
  ["_exit", "void", "int code"],
] as const;

/** The function the loader calls once per compiled unit with the table's address. */
export const NATIVE_BIND_SYMBOL = "native_bind_libc";

/**
 * C text put in front of prelude.h: the table's struct, the bind function and
 * one macro per name (after the struct, so a field name is never rewritten).
 * memset and memcpy, which TinyCC may call on its own for a struct copy or a
 * zeroed local, Bun's cc() supplies itself.
 */
export function nativeLibcDeclarations(): string {
  const fields = NATIVE_LIBC_ENTRIES.map(([name, ret, params]) => `  ${ret} (*${name})(${params});`);
  const macros = NATIVE_LIBC_ENTRIES.map(([name]) => `#define ${name} (native_libc->${name})`);
  return [
    "typedef unsigned long usize;",
    "typedef long ssize;",
    "struct native_libc {",
    ...fields,
    "};",
    "static const struct native_libc *native_libc;",
    `void ${NATIVE_BIND_SYMBOL}(const struct native_libc *table) { native_libc = table; }`,
    ...macros,
    "",
  ].join("\n");
}
