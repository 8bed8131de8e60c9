/*
 * Prepended by loadNative() to every C source in this folder. The sources are
 * compiled at run time by TinyCC inside Bun, on machines that may have no
 * /usr/include: so no #include anywhere, only the few libc entry points the
 * sources call (see below) and numeric constants for Linux.
 */
#if !defined(__x86_64__) && !defined(__aarch64__)
#error "uffd-suite native helpers know x86_64 and aarch64 only"
#endif

typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
/* usize, ssize and the libc calls (syscall, open, read, write, ioctl, mremap,
 * sigaction, __sigsetjmp, _exit, ...) come from the block load.ts puts in
 * front of this file (libc-entries.ts): a table of pointers into the libc
 * already loaded, since the sources link against no library. */

/* Syscall numbers that differ between the two architectures. */
#if defined(__x86_64__)
#define NR_CLONE 56
#define NR_GETTID 186
#define NR_GETPPID 110
#else
#define NR_CLONE 220
#define NR_GETTID 178
#define NR_GETPPID 173
#endif

/* Signal numbers (the same on x86_64 and aarch64). */
#define SIG_ILL 4
#define SIG_TRAP 5
#define SIG_ABRT 6
#define SIG_BUS 7
#define SIG_FPE 8
#define SIG_KILL 9
#define SIG_SEGV 11
#define SIG_CHLD 17
#define SIG_SYS 31

#define SA_FLAG_SIGINFO 4
#define SIGMASK_SET 2
#define PRCTL_SET_PDEATHSIG 1
#define OPEN_RDONLY 0
#define OPEN_CLOEXEC 02000000

/* glibc's struct sigaction (the generic layout on both architectures). */
struct native_sigaction {
  void *handler;
  unsigned long mask[16];
  int flags;
  void *restorer;
};

/* Room for glibc's sigjmp_buf on either architecture (200 and 312 bytes). */
typedef struct {
  u64 words[64];
} __attribute__((aligned(16))) native_jmp_buf;

static void native_zero(void *p, usize n) {
  volatile unsigned char *b = p;
  while (n--) *b++ = 0;
}

static long native_gettid(void) {
  return syscall(NR_GETTID);
}

/* Write n u64 values to the report pipe `fd` (none when fd < 0); 0 or -1. */
static int native_report(int fd, const u64 *vals, int n) {
  const char *p = (const char *)vals;
  usize left = (usize)n * 8;
  if (fd < 0) return 0;
  while (left > 0) {
    ssize w = write(fd, p, left);
    if (w < 0) {
      if (*__errno_location() == 4 /* EINTR */) continue;
      return -1;
    }
    p += w;
    left -= (usize)w;
  }
  return 0;
}

/*
 * An in-process SIGBUS catch (probe.c, faults.c). native_sigbus_arm() puts
 * native_sigbus_on() in place and keeps the previous handler (Bun's); a
 * routine then sets native_sigbus_armed around a touch, with a sigsetjmp
 * point in native_sigbus_jb, and calls native_sigbus_disarm() at the end.
 * The handler jumps back (clearing armed) only for the thread that armed it;
 * a SIGBUS in any other thread goes on to the previous handler. Globals are
 * per compiled source and per JS thread; the handler is per process: one
 * catching routine at a time in the whole process.
 */
static native_jmp_buf native_sigbus_jb;
static volatile int native_sigbus_armed;
static volatile long native_sigbus_tid;
static struct native_sigaction native_sigbus_prev;

static void native_sigbus_on(int sig, void *info, void *uctx) {
  void *h;
  if (native_sigbus_armed && native_gettid() == native_sigbus_tid) {
    native_sigbus_armed = 0;
    siglongjmp(&native_sigbus_jb, 1);
  }
  h = native_sigbus_prev.handler;
  if (h == (void *)0 || h == (void *)1) {
    /* Default (or ignored, which the kernel does not honour for a fault):
     * fall back to the default action; the faulting access repeats and
     * the signal is delivered again with it. */
    struct native_sigaction dfl;
    native_zero(&dfl, sizeof dfl);
    sigaction(SIG_BUS, &dfl, 0);
    return;
  }
  if (native_sigbus_prev.flags & SA_FLAG_SIGINFO)
    ((void (*)(int, void *, void *))h)(sig, info, uctx);
  else
    ((void (*)(int))h)(sig);
}

/* Install the catch for the calling thread; 0, or -1 (errno set). */
static int native_sigbus_arm(void) {
  struct native_sigaction act;
  native_zero(&act, sizeof act);
  act.handler = (void *)native_sigbus_on;
  act.flags = SA_FLAG_SIGINFO;
  if (sigaction(SIG_BUS, &act, &native_sigbus_prev) != 0) return -1;
  native_sigbus_tid = native_gettid();
  return 0;
}

/* Put the previous handler back. */
static void native_sigbus_disarm(void) {
  native_sigbus_armed = 0;
  sigaction(SIG_BUS, &native_sigbus_prev, 0);
}
