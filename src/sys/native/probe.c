/*
 * Did touching this address raise SIGBUS? Asked in the calling thread of the
 * parent process, which survives the signal.
 *
 * native_probe_sigbus() puts its own SIGBUS handler in place, arms a
 * sigsetjmp point, touches one byte, then puts the previous handler (Bun's)
 * back. The handler jumps back only for the thread that armed it; a SIGBUS
 * in any other thread goes on to the previous handler.
 *
 * Signal handlers are per process and this file's globals are per compiled
 * instance (one per JavaScript thread): probe from one thread at a time.
 * The touch must not block forever: use it where the access either completes
 * or raises SIGBUS (memory past the end of a file, a poisoned page, a
 * userfaultfd range with the SIGBUS feature, or one a live handler serves).
 */

static native_jmp_buf probe_jb;
static volatile int probe_armed;
static volatile long probe_tid;
static struct native_sigaction probe_prev;
static volatile unsigned char probe_sink;

static void probe_on_sigbus(int sig, void *info, void *uctx) {
  void *h;
  if (probe_armed && native_gettid() == probe_tid) {
    probe_armed = 0;
    siglongjmp(&probe_jb, 1);
  }
  h = probe_prev.handler;
  if (h == (void *)0 || h == (void *)1) {
    /* Default (or ignored, which the kernel does not honour for a fault):
     * fall back to the default action; the faulting access repeats and
     * the signal is delivered again with it. */
    struct native_sigaction dfl;
    native_zero(&dfl, sizeof dfl);
    sigaction(SIG_BUS, &dfl, 0);
    return;
  }
  if (probe_prev.flags & SA_FLAG_SIGINFO)
    ((void (*)(int, void *, void *))h)(sig, info, uctx);
  else
    ((void (*)(int))h)(sig);
}

/* access: 0 read, 1 write (the byte read is stored back unchanged).
 * Returns 1 when the touch raised SIGBUS, 0 when it did not, -1 (errno set)
 * when the handler could not be installed. */
int native_probe_sigbus(void *addr, int access) {
  volatile unsigned char *p = addr;
  volatile int hit = 0;
  struct native_sigaction act;
  native_zero(&act, sizeof act);
  act.handler = (void *)probe_on_sigbus;
  act.flags = SA_FLAG_SIGINFO;
  if (sigaction(SIG_BUS, &act, &probe_prev) != 0) return -1;
  probe_tid = native_gettid();
  if (__sigsetjmp(&probe_jb, 1) == 0) {
    probe_armed = 1;
    if (access) {
      unsigned char v = *p;
      *p = v;
    } else {
      probe_sink = *p;
    }
    probe_armed = 0;
  } else {
    hit = 1;
  }
  sigaction(SIG_BUS, &probe_prev, 0);
  return hit;
}
