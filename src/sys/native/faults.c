/*
 * Faulting loops that take SIGBUS in-process, run from a Worker thread of the
 * test process (never the thread that services the userfaultfd).
 *
 * Each routine puts the SIGBUS catch of prelude.h (native_sigbus_arm) in
 * place for its duration and puts the previous handler (Bun's) back
 * afterwards: one routine at a time in the whole process.
 *
 * Routines take (const u64 *args, u64 *out); they return 0 when they ran to
 * the end (the verdict is in out[]) and a negative FAULTS_E_* code when a
 * system call failed (details in out[]).
 */

#define FAULTS_E_SIGACTION -1
#define FAULTS_E_COPY -2
#define FAULTS_E_WAKE -3
#define FAULTS_E_WRITEPROTECT -4
#define FAULTS_E_SPIN -5

#define FAULTS_OK 0
#define FAULTS_CORRUPT 1
#define FAULTS_REPEATED 2
#define FAULTS_WRONG_PAGE 3

/* A page that keeps signalling after this many resolutions is reported, not retried forever. */
#define FAULTS_MAX_SIGNALS_PER_PAGE 8

/* struct uffdio_copy: dst, src, len, mode, copy (s64). */
struct faults_copy {
  u64 dst, src, len, mode;
  s64 copy;
};
/* struct uffdio_writeprotect: range (start, len), mode. */
struct faults_wp {
  u64 start, len, mode;
};

#define UFFD_COPY_MODE_WP 2
#define E_EEXIST 17

/*
 * The SIGBUS half of the C suite's faulting_process(1): every first touch of
 * a missing page raises SIGBUS (UFFD_FEATURE_SIGBUS); the signal path copies
 * the page in (UFFDIO_COPY, with MODE_WP for the wp variant) and the access
 * is retried. With wp, writing the counter back raises SIGBUS once more and
 * the signal path write-unprotects the page. Beyond the C, each page's tag
 * (u32 page number, u32 seed, written by the source set-up) is checked after
 * its counter, so a copy from the wrong source page says whose data it holds.
 *
 * args: [0] uffd [1] dst [2] src [3] pages to walk [4] page size
 *       [5] counter offset [6] expected counters (u64 per page) [7] wp
 *       [8] UFFDIO_COPY [9] UFFDIO_WAKE [10] UFFDIO_WRITEPROTECT
 *       [11] offset of each page's tag [12] its seed (0: no tag check)
 *       [13] source pages to skip on each copy (0; test-only plant: 1)
 * out:  [0] pages copied in by the signal path ("signalled" in the C)
 *       [1] verdict (FAULTS_OK / CORRUPT / REPEATED / WRONG_PAGE) [2] page
 *       [3] value seen (counter, or tag) [4] value expected
 *       [5] SIGBUS taken in all [6] ioctl result on error
 */
int faults_sigbus_resolve(const u64 *a, u64 *out) {
  int uffd = (int)a[0];
  unsigned char *dst = (unsigned char *)(usize)a[1];
  u64 src = a[2], pages = a[3], ps = a[4], coff = a[5], wp = a[7];
  u64 toff = a[11], seed = a[12], shift = a[13];
  const u64 *verify = (const u64 *)(usize)a[6];
  unsigned long req_copy = (unsigned long)a[8], req_wake = (unsigned long)a[9], req_wp = (unsigned long)a[10];
  volatile u64 nr = 0, signalled = 0, total = 0, lastnr = ~0ULL;
  volatile int steps = 1, per_page = 0, err = 0;
  struct faults_copy cp;
  struct faults_wp wr;
  u64 range[2];

  native_zero(out, 8 * 8);
  if (native_sigbus_arm() != 0) return FAULTS_E_SIGACTION;
  for (nr = 0; nr < pages; nr++) {
    volatile u64 *counter = (volatile u64 *)(dst + nr * ps + coff);
    u64 count;
    steps = 1;
    per_page = 0;
    if (__sigsetjmp(&native_sigbus_jb, 1) != 0) {
      native_sigbus_armed = 0;
      total = total + 1;
      per_page = per_page + 1;
      if (steps == 1 && nr == lastnr) {
        out[1] = FAULTS_REPEATED;
        out[2] = nr;
        break;
      }
      if (per_page > FAULTS_MAX_SIGNALS_PER_PAGE) {
        err = FAULTS_E_SPIN;
        out[2] = nr;
        break;
      }
      lastnr = nr;
      if (steps == 1) {
        /* A missing page: copy it in. */
        steps = 2;
        cp.dst = (u64)(usize)dst + nr * ps;
        cp.src = src + ((nr + shift) % pages) * ps;
        cp.len = ps;
        cp.mode = wp ? UFFD_COPY_MODE_WP : 0;
        cp.copy = 0;
        if (ioctl(uffd, req_copy, &cp) != 0) {
          if (cp.copy != -E_EEXIST) {
            err = FAULTS_E_COPY;
            out[2] = nr;
            out[6] = (u64)cp.copy;
            break;
          }
          range[0] = cp.dst;
          range[1] = ps;
          if (ioctl(uffd, req_wake, range) != 0) {
            err = FAULTS_E_WAKE;
            out[2] = nr;
            break;
          }
        } else if ((u64)cp.copy != ps) {
          err = FAULTS_E_COPY;
          out[2] = nr;
          out[6] = (u64)cp.copy;
          break;
        } else {
          signalled = signalled + 1;
        }
      } else {
        /* A write-protected page: unprotect it. */
        wr.start = (u64)(usize)dst + nr * ps;
        wr.len = ps;
        wr.mode = 0;
        if (ioctl(uffd, req_wp, &wr) != 0) {
          err = FAULTS_E_WRITEPROTECT;
          out[2] = nr;
          break;
        }
      }
    }
    native_sigbus_armed = 1;
    count = *counter;
    if (count != verify[nr]) {
      native_sigbus_armed = 0;
      out[1] = FAULTS_CORRUPT;
      out[2] = nr;
      out[3] = count;
      out[4] = verify[nr];
      break;
    }
    if (seed != 0) {
      u64 tag = *(volatile u64 *)(dst + nr * ps + toff);
      if (tag != ((seed << 32) | nr)) {
        native_sigbus_armed = 0;
        out[1] = FAULTS_WRONG_PAGE;
        out[2] = nr;
        out[3] = tag;
        out[4] = (seed << 32) | nr;
        break;
      }
    }
    /* Writing the same value back raises the write-protect fault, if any. */
    *counter = count;
    native_sigbus_armed = 0;
  }
  native_sigbus_disarm();
  out[0] = signalled;
  out[5] = total;
  return err;
}

/*
 * The poison test's reader: walk every page of dst, reading all its bytes;
 * a page whose read raises SIGBUS is counted (and marked in the bitmap) and
 * skipped. Faults are served by a handler in another thread.
 *
 * args: [0] dst [1] pages [2] page size [3] bitmap words available in out
 * out:  [0] pages that raised SIGBUS [1] pages holding a non-zero byte
 *       [2] first such page [3] its offset [4] the byte
 *       [8...] bitmap of the pages that raised SIGBUS (when room)
 */
int faults_poison_scan(const u64 *a, u64 *out) {
  unsigned char *dst = (unsigned char *)(usize)a[0];
  u64 pages = a[1], ps = a[2], words = a[3];
  volatile u64 nr = 0, sigbus = 0, nonzero = 0;
  u64 i, need = (pages + 63) / 64;
  int bitmap = need <= words;

  native_zero(out, 8 * 8);
  if (bitmap) native_zero(out + 8, need * 8);
  out[2] = ~0ULL;
  if (native_sigbus_arm() != 0) return FAULTS_E_SIGACTION;
  for (nr = 0; nr < pages; nr++) {
    volatile unsigned char *page = dst + nr * ps;
    if (__sigsetjmp(&native_sigbus_jb, 1) != 0) {
      native_sigbus_armed = 0;
      sigbus = sigbus + 1;
      if (bitmap) out[8 + nr / 64] |= 1ULL << (nr % 64);
      continue;
    }
    native_sigbus_armed = 1;
    for (i = 0; i < ps; i++) {
      unsigned char b = page[i];
      if (b != 0) {
        if (nonzero == 0) {
          out[2] = nr;
          out[3] = i;
          out[4] = b;
        }
        nonzero = nonzero + 1;
        break;
      }
    }
    native_sigbus_armed = 0;
  }
  native_sigbus_disarm();
  out[0] = sigbus;
  out[1] = nonzero;
  return 0;
}
