/*
 * Routines for forked children (see child.c for the fork itself): the C
 * suite's faulting_process(0) of the events tests, and a long-term pin
 * through debugfs gup_test followed by a pagemap read.
 *
 * Each takes an array of u64 arguments; slot 0 is the report pipe (-1: none).
 * Exit codes 0..8 mean what child.c's do; the ones below are added here.
 */

#define FORKED_OK 0
#define FORKED_MISMATCH 1
#define FORKED_BAD_ARGS 2
#define FORKED_OPEN_FAILED 3
#define FORKED_READ_FAILED 4
#define FORKED_REPORT_FAILED 5
#define FORKED_MADVISE_FAILED 6
#define FORKED_MREMAP_FAILED 9
#define FORKED_NOT_ZERO 10
#define FORKED_GUP_OPEN_FAILED 11
#define FORKED_PIN_FAILED 12
#define FORKED_UNPIN_FAILED 13

#define FORKED_MREMAP_MAYMOVE 1
#define FORKED_MREMAP_FIXED 2


/* Check one page's counter against the expected value, then write it back
 * (which raises the write-protect fault where there is one). */
static int forked_count(unsigned char *area, u64 nr, u64 ps, u64 coff, const u64 *verify, u64 *seen) {
  volatile u64 *c = (volatile u64 *)(area + nr * ps + coff);
  u64 v = *c;
  *seen = v;
  if (v != verify[nr]) return -1;
  *c = v;
  return 0;
}

/*
 * events: [1] dst [2] where to mremap dst (the source area's address)
 *         [3] pages [4] page size [5] counter offset [6] expected counters
 *         [7] madvise advice that releases the pages (DONTNEED or REMOVE)
 * The first half of the pages is checked at dst, then dst is moved onto [2]
 * (MREMAP_FIXED), the second half is checked there, the pages are released,
 * and every byte must then read zero.
 * Report: [0] stage reached (1 first half, 2 mremap, 3 second half,
 * 4 release, 5 zero check, 6 done) [1] page [2] value seen [3] expected /
 * offset of the non-zero byte [4] errno.
 */
int forked_events(const u64 *a) {
  unsigned char *dst = (unsigned char *)(usize)a[1];
  unsigned char *to = (unsigned char *)(usize)a[2];
  u64 pages = a[3], ps = a[4], coff = a[5];
  const u64 *verify = (const u64 *)(usize)a[6];
  int advice = (int)a[7], fd = (int)(s64)a[0];
  u64 split = (pages + 1) / 2, nr, i, seen = 0, out[5];
  unsigned char *moved;
  native_zero(out, sizeof out);
  if (ps == 0 || pages == 0) return FORKED_BAD_ARGS;

  out[0] = 1;
  for (nr = 0; nr < split; nr++) {
    if (forked_count(dst, nr, ps, coff, verify, &seen) != 0) goto mismatch;
  }
  out[0] = 2;
  moved = mremap(dst, pages * ps, pages * ps, FORKED_MREMAP_MAYMOVE | FORKED_MREMAP_FIXED, to);
  if (moved == (unsigned char *)-1L || moved != to) {
    out[4] = (u64)*__errno_location();
    native_report(fd, out, 5);
    return FORKED_MREMAP_FAILED;
  }
  out[0] = 3;
  for (; nr < pages; nr++) {
    if (forked_count(moved, nr, ps, coff, verify, &seen) != 0) goto mismatch;
  }
  out[0] = 4;
  if (madvise(moved, pages * ps, advice) != 0) {
    out[4] = (u64)*__errno_location();
    native_report(fd, out, 5);
    return FORKED_MADVISE_FAILED;
  }
  out[0] = 5;
  for (nr = 0; nr < pages; nr++) {
    volatile unsigned char *p = moved + nr * ps;
    for (i = 0; i < ps; i++) {
      if (p[i] != 0) {
        out[1] = nr;
        out[2] = p[i];
        out[3] = i;
        native_report(fd, out, 5);
        return FORKED_NOT_ZERO;
      }
    }
  }
  out[0] = 6;
  return native_report(fd, out, 5) < 0 ? FORKED_REPORT_FAILED : FORKED_OK;

mismatch:
  out[1] = nr;
  out[2] = seen;
  out[3] = verify[nr];
  native_report(fd, out, 5);
  return FORKED_MISMATCH;
}

/* struct pin_longterm_test (mm/gup_test.h): addr, size, flags (+ padding). */
struct forked_pin {
  u64 addr, size;
  u32 flags, pad;
};

/*
 * pin-pagemap: [1] addr [2] length to pin [3] PIN_LONGTERM_TEST_START
 *              [4] PIN_LONGTERM_TEST_STOP [5] base page size (pagemap index)
 * Read-only long-term pin of [addr, addr+len) through /sys/kernel/debug/gup_test,
 * then this process's pagemap entry of addr, then unpin.
 * Report: [0] the entry [1] errno of a failed step.
 */
int forked_pin_pagemap(const u64 *a) {
  struct forked_pin pin;
  u64 out[2];
  int gup, pm, fd = (int)(s64)a[0];
  ssize r;
  native_zero(out, sizeof out);
  if (a[5] == 0) return FORKED_BAD_ARGS;
  gup = open("/sys/kernel/debug/gup_test", 2 /* O_RDWR */ | OPEN_CLOEXEC);
  if (gup < 0) {
    out[1] = (u64)*__errno_location();
    native_report(fd, out, 2);
    return FORKED_GUP_OPEN_FAILED;
  }
  native_zero(&pin, sizeof pin);
  pin.addr = a[1];
  pin.size = a[2];
  if (ioctl(gup, (unsigned long)a[3], &pin) != 0) {
    out[1] = (u64)*__errno_location();
    native_report(fd, out, 2);
    return FORKED_PIN_FAILED;
  }
  pm = open("/proc/self/pagemap", OPEN_RDONLY | OPEN_CLOEXEC);
  if (pm < 0) return FORKED_OPEN_FAILED;
  for (;;) {
    r = pread(pm, &out[0], 8, (long)((a[1] / a[5]) * 8));
    if (r == 8) break;
    if (r < 0 && *__errno_location() == 4) continue;
    return FORKED_READ_FAILED;
  }
  close(pm);
  if (ioctl(gup, (unsigned long)a[4], 0) != 0) {
    out[1] = (u64)*__errno_location();
    native_report(fd, out, 2);
    return FORKED_UNPIN_FAILED;
  }
  close(gup);
  return native_report(fd, out, 2) < 0 ? FORKED_REPORT_FAILED : FORKED_OK;
}
