/*
 * Fork with nothing but C in the child.
 *
 * native_fork() clones the calling process with the raw clone system call
 * (no pthread_atfork handlers, no libc locks taken), and the child runs one
 * routine on its copy of the parent's memory, then _exit()s with the
 * routine's result. The child never returns into JavaScript: Bun's JIT code
 * is not copied on fork, and its heap and locks belong to threads the child
 * does not have. A routine may use system calls only (no malloc, no stdio).
 *
 * Every routine takes an array of u64 arguments; slot 0 is always the fd of a
 * pipe where it writes its u64 results (-1: report nothing).
 */

#define CHILD_OK 0
#define CHILD_MISMATCH 1
#define CHILD_BAD_ARGS 2
#define CHILD_OPEN_FAILED 3
#define CHILD_READ_FAILED 4
#define CHILD_REPORT_FAILED 5
#define CHILD_MADVISE_FAILED 6
#define CHILD_SIGACTION_FAILED 7
#define CHILD_ORPHANED 8

#if defined(__x86_64__)
#define NR_GETPID 39
#else
#define NR_GETPID 172
#endif

#define ACCESS_READ 0
#define ACCESS_WRITE 1
#define ACCESS_REWRITE 2

#define CHECK_NONE 0
#define CHECK_BYTE 1
#define CHECK_U64 2
#define CHECK_FILL 3

#define SIGBUS_BITMAP_WORDS 4096

typedef int (*child_routine)(const u64 *args);

static volatile unsigned char child_sink;
static native_jmp_buf child_jb;
static u64 child_sigbus_bits[SIGBUS_BITMAP_WORDS];

static void child_default_signals(void) {
  static const int sigs[] = { SIG_ILL, SIG_TRAP, SIG_ABRT, SIG_BUS, SIG_FPE, SIG_SEGV, SIG_SYS };
  struct native_sigaction dfl;
  unsigned long none[16];
  int i;
  native_zero(&dfl, sizeof dfl);
  native_zero(none, sizeof none);
  /* Bun's crash handlers must not run here: a fault should kill the child
   * with its own signal, for the parent to read. */
  for (i = 0; i < (int)(sizeof sigs / sizeof sigs[0]); i++) sigaction(sigs[i], &dfl, 0);
  sigprocmask(SIGMASK_SET, none, 0);
}

/* Returns the child's pid to the parent, -1 with errno on failure. */
int native_fork(void *routine, const u64 *args) {
  long parent = syscall(NR_GETPID);
  long pid = syscall(NR_CLONE, (long)SIG_CHLD, 0L, 0L, 0L, 0L);
  if (pid != 0) return (int)pid;
  /* Die with the thread that forked us, so a crashed or stopped parent
   * leaves no child blocked in a fault nobody will serve. */
  prctl(PRCTL_SET_PDEATHSIG, SIG_KILL, 0, 0, 0);
  if (syscall(NR_GETPPID) != parent) _exit(CHILD_ORPHANED);
  child_default_signals();
  _exit(((child_routine)routine)(args) & 255);
  return -1;
}


static void child_touch_one(volatile unsigned char *p, int access, unsigned char value) {
  if (access == ACCESS_READ) {
    child_sink = *p;
  } else if (access == ACCESS_WRITE) {
    *p = value;
  } else {
    unsigned char v = *p;
    *p = v;
  }
}

int child_exit(const u64 *a) {
  return (int)a[1];
}

int child_sleep(const u64 *a) {
  long ts[2];
  ts[0] = (long)(a[1] / 1000);
  ts[1] = (long)(a[1] % 1000) * 1000000L;
  while (nanosleep(ts, ts) != 0 && *__errno_location() == 4) {
  }
  return CHILD_OK;
}

/*
 * touch: [1] addr [2] len [3] step [4] access [5] offset [6] value
 *        [7] check kind [8] check offset [9] expect [10] per-page expect array (0: none)
 * Checks run before any write. Report: pages, mismatches, first bad page, value seen there.
 */
int child_touch(const u64 *a) {
  unsigned char *base = (unsigned char *)(usize)a[1];
  u64 len = a[2], step = a[3], i, pages, bad = 0, first = ~0ULL, seen = 0;
  int access = (int)a[4], kind = (int)a[7];
  u64 off = a[5], coff = a[8];
  const u64 *per = (const u64 *)(usize)a[10];
  u64 out[4];
  if (step == 0 || access < 0 || access > 2 || kind < 0 || kind > 3) return CHILD_BAD_ARGS;
  pages = (len + step - 1) / step;
  for (i = 0; i < pages; i++) {
    unsigned char *page = base + i * step;
    u64 expect = per ? per[i] : a[9];
    int ok = 1;
    u64 got = 0;
    if (kind == CHECK_BYTE) {
      got = *(volatile unsigned char *)(page + coff);
      ok = got == (expect & 0xff);
    } else if (kind == CHECK_U64) {
      got = *(volatile u64 *)(page + coff);
      ok = got == expect;
    } else if (kind == CHECK_FILL) {
      u64 j;
      for (j = 0; j < step; j++) {
        got = ((volatile unsigned char *)page)[j];
        if (got != (expect & 0xff)) {
          ok = 0;
          break;
        }
      }
    }
    if (!ok) {
      if (bad == 0) {
        first = i;
        seen = got;
      }
      bad++;
    }
    child_touch_one(page + off, access, (unsigned char)a[6]);
  }
  out[0] = pages;
  out[1] = bad;
  out[2] = first;
  out[3] = seen;
  if (native_report((int)(s64)a[0], out, 4) < 0) return CHILD_REPORT_FAILED;
  return bad ? CHILD_MISMATCH : CHILD_OK;
}

static int child_pagemap_entry(int fd, u64 addr, u64 page_size, u64 *entry) {
  for (;;) {
    ssize r = pread(fd, entry, 8, (long)((addr / page_size) * 8));
    if (r == 8) return 0;
    if (r < 0 && *__errno_location() == 4) continue;
    return -1;
  }
}

/* pagemap: [1] addr [2] page size. Report: the entry (bit 63 present, 57 uffd-wp). */
int child_pagemap(const u64 *a) {
  u64 entry;
  int fd;
  if (a[2] == 0) return CHILD_BAD_ARGS;
  fd = open("/proc/self/pagemap", OPEN_RDONLY | OPEN_CLOEXEC);
  if (fd < 0) return CHILD_OPEN_FAILED;
  if (child_pagemap_entry(fd, a[1], a[2], &entry) < 0) {
    close(fd);
    return CHILD_READ_FAILED;
  }
  close(fd);
  return native_report((int)(s64)a[0], &entry, 1) < 0 ? CHILD_REPORT_FAILED : CHILD_OK;
}

/* zap-pagemap: [1] addr [2] len [3] page size [4] madvise advice. Report: entry before, entry after. */
int child_zap_pagemap(const u64 *a) {
  u64 out[2];
  int fd;
  if (a[3] == 0) return CHILD_BAD_ARGS;
  fd = open("/proc/self/pagemap", OPEN_RDONLY | OPEN_CLOEXEC);
  if (fd < 0) return CHILD_OPEN_FAILED;
  if (child_pagemap_entry(fd, a[1], a[3], &out[0]) < 0) {
    close(fd);
    return CHILD_READ_FAILED;
  }
  if (madvise((void *)(usize)a[1], (usize)a[2], (int)a[4]) != 0) {
    close(fd);
    return CHILD_MADVISE_FAILED;
  }
  if (child_pagemap_entry(fd, a[1], a[3], &out[1]) < 0) {
    close(fd);
    return CHILD_READ_FAILED;
  }
  close(fd);
  return native_report((int)(s64)a[0], out, 2) < 0 ? CHILD_REPORT_FAILED : CHILD_OK;
}

static void child_on_sigbus(int sig) {
  (void)sig;
  siglongjmp(&child_jb, 1);
}

/*
 * count-sigbus: [1] addr [2] len [3] step [4] access [5] offset
 * Touches each page once with a SIGBUS handler in place; a page whose touch
 * raised SIGBUS is skipped. Report: count, pages, then a bitmap of the pages
 * that signalled (64 pages a word; left out past 262144 pages).
 */
int child_count_sigbus(const u64 *a) {
  unsigned char *base = (unsigned char *)(usize)a[1];
  u64 step = a[3], pages, words;
  volatile u64 i, count = 0;
  int access = (int)a[4];
  struct native_sigaction act;
  u64 head[2];
  if (step == 0 || access < 0 || access > 2) return CHILD_BAD_ARGS;
  pages = (a[2] + step - 1) / step;
  words = pages <= SIGBUS_BITMAP_WORDS * 64ULL ? (pages + 63) / 64 : 0;
  native_zero(child_sigbus_bits, sizeof child_sigbus_bits);
  native_zero(&act, sizeof act);
  act.handler = (void *)child_on_sigbus;
  if (sigaction(SIG_BUS, &act, 0) != 0) return CHILD_SIGACTION_FAILED;
  for (i = 0; i < pages; i++) {
    if (__sigsetjmp(&child_jb, 1) != 0) {
      count = count + 1;
      if (words) child_sigbus_bits[i / 64] |= 1ULL << (i % 64);
      continue;
    }
    child_touch_one(base + i * step + a[5], access, 0);
  }
  head[0] = count;
  head[1] = pages;
  if (native_report((int)(s64)a[0], head, 2) < 0) return CHILD_REPORT_FAILED;
  if (words && native_report((int)(s64)a[0], child_sigbus_bits, (int)words) < 0) return CHILD_REPORT_FAILED;
  return CHILD_OK;
}
