/*
 * Did touching this address raise SIGBUS? Asked in the calling thread of the
 * parent process, which survives the signal.
 *
 * native_probe_sigbus() puts the SIGBUS catch of prelude.h in place, arms a
 * sigsetjmp point, touches one byte, then puts the previous handler (Bun's)
 * back. Signal handlers are per process: probe from one thread at a time.
 * The touch must not block forever: use it where the access either completes
 * or raises SIGBUS (memory past the end of a file, a poisoned page, a
 * userfaultfd range with the SIGBUS feature, or one a live handler serves).
 */

static volatile unsigned char probe_sink;

/* access: 0 read, 1 write (the byte read is stored back unchanged).
 * Returns 1 when the touch raised SIGBUS, 0 when it did not, -1 (errno set)
 * when the handler could not be installed. */
int native_probe_sigbus(void *addr, int access) {
  volatile unsigned char *p = addr;
  volatile int hit = 0;
  if (native_sigbus_arm() != 0) return -1;
  if (__sigsetjmp(&native_sigbus_jb, 1) == 0) {
    native_sigbus_armed = 1;
    if (access) {
      unsigned char v = *p;
      *p = v;
    } else {
      probe_sink = *p;
    }
    native_sigbus_armed = 0;
  } else {
    hit = 1;
  }
  native_sigbus_disarm();
  return hit;
}
