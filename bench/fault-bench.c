/*
 * fault-bench.c: the C reference for `uffd-suite bench`.
 *
 * uffd-suite's own code (not taken from the kernel tree). Faulting threads
 * touch every page of a userfaultfd-registered area once; handler threads
 * serve the faults, one ioctl per fault, exactly as the Bun handler Worker
 * does. Only libc headers are needed: the userfaultfd ABI is declared here,
 * so a machine without kernel headers can still build it.
 *
 *   fault-bench --kind copy|zeropage|wp|minor --mem anon|shmem --mode poll|read
 *               [--loop selftest|batch] [--pages N] [--runs R] [--warmup W]
 *               [--faulters F] [--handlers H] [--cpu C]
 *
 * --loop selftest (default): the kernel selftests' handler loop (uffd-common.c):
 *   poll mode: poll([uffd, stop pipe]) -> read ONE message -> handle; read
 *   mode: blocking read of ONE message -> handle.
 * --loop batch: uffd-suite's loop (src/harness/serve.ts) written in C: read up
 *   to 64 messages first, poll only when nothing is queued (poll mode); a
 *   blocking read of up to 64 messages (read mode).
 *
 * Prints one line per timed run:
 *   run ns=<span> cpu_ns=<cpu> faults=<pages touched> served=<faults handled>
 * where the span is from the first faulting thread's start to the last one's
 * end, and cpu the CPU time all threads of the process used meanwhile
 * (CLOCK_PROCESS_CPUTIME_ID), which other load on the machine inflates less
 * than the span.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- userfaultfd ABI (include/uapi/linux/userfaultfd.h) ---- */
#ifndef SYS_userfaultfd
#if defined(__x86_64__)
#define SYS_userfaultfd 323
#elif defined(__aarch64__)
#define SYS_userfaultfd 282
#else
#error "set SYS_userfaultfd for this architecture"
#endif
#endif

#define FB_IOC(dir, nr, size) ((unsigned long)(((unsigned long)(dir) << 30) | ((size) << 16) | (0xAA << 8) | (nr)))
#define FB_IOWR(nr, size) FB_IOC(3, nr, size)
#define FB_IOR(nr, size) FB_IOC(2, nr, size)

struct fb_api { uint64_t api, features, ioctls; };
struct fb_range { uint64_t start, len; };
struct fb_register { uint64_t start, len, mode, ioctls; };
struct fb_copy { uint64_t dst, src, len, mode; int64_t copy; };
struct fb_zeropage { uint64_t start, len, mode; int64_t zeropage; };
struct fb_writeprotect { uint64_t start, len, mode; };
struct fb_continue { uint64_t start, len, mode; int64_t mapped; };
struct fb_msg {
	uint8_t event, reserved1;
	uint16_t reserved2;
	uint32_t reserved3;
	uint64_t flags, address, ptid;
};

#define FB_API FB_IOWR(0x3f, sizeof(struct fb_api))
#define FB_REGISTER FB_IOWR(0x00, sizeof(struct fb_register))
#define FB_WAKE FB_IOR(0x02, sizeof(struct fb_range))
#define FB_COPY FB_IOWR(0x03, sizeof(struct fb_copy))
#define FB_ZEROPAGE FB_IOWR(0x04, sizeof(struct fb_zeropage))
#define FB_WRITEPROTECT FB_IOWR(0x06, sizeof(struct fb_writeprotect))
#define FB_CONTINUE FB_IOWR(0x07, sizeof(struct fb_continue))

#define FB_EVENT_PAGEFAULT 0x12
#define FB_FLAG_WP 2
#define FB_FLAG_MINOR 4
#define FB_FEATURE_PAGEFAULT_FLAG_WP (1u << 0)
#define FB_FEATURE_MISSING_SHMEM (1u << 5)
#define FB_FEATURE_MINOR_SHMEM (1u << 10)
#define FB_REG_MISSING 1
#define FB_REG_WP 2
#define FB_REG_MINOR 4
#define FB_BATCH 64

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1
#endif

enum kind { K_COPY, K_ZEROPAGE, K_WP, K_MINOR };

static enum kind kind = K_COPY;
static int shmem, poll_mode = 1, batch_loop, cpu = -1;
static long pages = 65536, runs = 1, warmup = 0, nfaulters = 1, nhandlers = 1;
static long page_size;
static int uffd;
static char *src, *dst, *dst_alias; /* faults land on dst (missing, wp) or dst_alias (minor) */
static volatile int go;
static long ready;

struct handler { pthread_t t; int stop[2]; long served; };
struct faulter { pthread_t t; long first, count; struct timespec t0, t1; };

static void die(const char *what)
{
	fprintf(stderr, "fault-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void pin_self(void)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

/* A resolve that failed: fine only if another thread mapped the page first (EEXIST); wake the waiters. */
static void wake_after_eexist(uint64_t page, int64_t result, const char *what)
{
	struct fb_range r = { page, page_size };

	if (result != -EEXIST)
		die(what);
	ioctl(uffd, FB_WAKE, &r);
}

/* One fault: the same single ioctl the Bun handler makes. */
static void handle(const struct fb_msg *m, struct handler *h)
{
	uint64_t page = m->address & ~(uint64_t)(page_size - 1);

	if (m->event != FB_EVENT_PAGEFAULT) {
		fprintf(stderr, "fault-bench: unexpected event 0x%x\n", m->event);
		exit(1);
	}
	if (m->flags & FB_FLAG_WP) {
		struct fb_writeprotect wp = { page, page_size, 0 };
		if (ioctl(uffd, FB_WRITEPROTECT, &wp))
			die("UFFDIO_WRITEPROTECT");
	} else if (m->flags & FB_FLAG_MINOR) {
		struct fb_continue c = { page, page_size, 0, 0 };
		if (ioctl(uffd, FB_CONTINUE, &c))
			die("UFFDIO_CONTINUE");
	} else if (kind == K_ZEROPAGE) {
		struct fb_zeropage z = { page, page_size, 0, 0 };
		if (ioctl(uffd, FB_ZEROPAGE, &z)) {
			wake_after_eexist(page, z.zeropage, "UFFDIO_ZEROPAGE");
			return;
		}
	} else {
		uint64_t off = page - (uint64_t)(uintptr_t)dst;
		struct fb_copy c = { page, (uint64_t)(uintptr_t)src + off, page_size, 0, 0 };
		if (off >= (uint64_t)(pages * page_size)) {
			fprintf(stderr, "fault-bench: fault outside the area\n");
			exit(1);
		}
		if (ioctl(uffd, FB_COPY, &c)) {
			wake_after_eexist(page, c.copy, "UFFDIO_COPY");
			return;
		}
	}
	h->served++;
}

static void *handler_main(void *arg)
{
	struct handler *h = arg;
	struct pollfd pfd[2] = { { uffd, POLLIN, 0 }, { h->stop[0], POLLIN, 0 } };
	struct fb_msg msgs[FB_BATCH];
	size_t want = batch_loop ? sizeof(msgs) : sizeof(msgs[0]);

	pin_self();
	for (;;) {
		ssize_t n;

		if (poll_mode && !batch_loop) {
			if (poll(pfd, 2, -1) <= 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				die("poll");
			}
			if (pfd[1].revents)
				break;
		}
		n = read(uffd, msgs, want);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				die("read");
			if (poll_mode && batch_loop) {
				if (poll(pfd, 2, -1) < 0 && errno != EINTR)
					die("poll");
				if (pfd[1].revents)
					break;
			}
			continue;
		}
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			handle(&msgs[i], h);
	}
	return NULL;
}

static void *faulter_main(void *arg)
{
	struct faulter *f = arg;
	char *base = kind == K_MINOR ? dst_alias : dst;
	volatile char sink = 0;

	pin_self();
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
	clock_gettime(CLOCK_MONOTONIC, &f->t0);
	if (kind == K_WP) {
		for (long p = f->first; p < f->first + f->count; p++)
			((volatile char *)base)[p * page_size] = 1;
	} else {
		for (long p = f->first; p < f->first + f->count; p++)
			sink += ((volatile char *)base)[p * page_size];
	}
	clock_gettime(CLOCK_MONOTONIC, &f->t1);
	(void)sink;
	return NULL;
}

/* CPU time of every thread of this process so far (ended ones too), in ns. */
static long long process_cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *map_area(size_t len, int fd, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED, fd, off);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void reg(void *start, uint64_t mode)
{
	struct fb_register r = { (uint64_t)(uintptr_t)start, pages * page_size, mode, 0 };
	if (ioctl(uffd, FB_REGISTER, &r))
		die("UFFDIO_REGISTER");
}

static void setup(void)
{
	size_t len = pages * page_size;
	uint64_t features = 0;
	struct fb_api api;
	int fd = -1;

	if (shmem) {
		fd = memfd_create("fault-bench", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, 2 * len))
			die("memfd");
	}
	src = map_area(len, fd, 0);
	dst = map_area(len, fd, shmem ? len : 0);
	dst_alias = shmem ? map_area(len, fd, len) : dst;
	memset(src, 0x5a, len);
	if (fd >= 0)
		close(fd);

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1 /* UFFD_USER_MODE_ONLY */);
	if (uffd < 0)
		uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		die("userfaultfd");
	if (kind == K_WP)
		features |= FB_FEATURE_PAGEFAULT_FLAG_WP;
	if (kind == K_MINOR)
		features |= FB_FEATURE_MINOR_SHMEM;
	else if (shmem)
		features |= FB_FEATURE_MISSING_SHMEM;
	api = (struct fb_api){ 0xAA, features, 0 };
	if (ioctl(uffd, FB_API, &api))
		die("UFFDIO_API");
	if (!poll_mode) {
		int fl = fcntl(uffd, F_GETFL);
		fcntl(uffd, F_SETFL, fl & ~O_NONBLOCK);
	}
	switch (kind) {
	case K_COPY:
	case K_ZEROPAGE:
		reg(dst, FB_REG_MISSING);
		break;
	case K_WP:
		reg(dst, FB_REG_WP);
		break;
	case K_MINOR:
		reg(dst_alias, FB_REG_MINOR);
		break;
	}
}

/* Put the area back in the state where every touch faults once. */
static void reset(void)
{
	size_t len = pages * page_size;

	switch (kind) {
	case K_COPY:
	case K_ZEROPAGE:
		if (madvise(dst, len, shmem ? MADV_REMOVE : MADV_DONTNEED))
			die("madvise release");
		break;
	case K_WP: {
		struct fb_writeprotect wp = { (uint64_t)(uintptr_t)dst, len, 1 };
		if (madvise(dst, len, MADV_POPULATE_WRITE))
			die("madvise populate");
		if (ioctl(uffd, FB_WRITEPROTECT, &wp))
			die("UFFDIO_WRITEPROTECT (protect)");
		break;
	}
	case K_MINOR:
		/* Page cache filled through the unregistered view; the alias loses its PTEs. */
		if (madvise(dst, len, MADV_POPULATE_WRITE))
			die("madvise populate");
		if (madvise(dst_alias, len, MADV_DONTNEED))
			die("madvise alias");
		break;
	}
}

static void run_once(int timed)
{
	struct handler h[nhandlers];
	struct faulter f[nfaulters];
	long per = pages / nfaulters, served = 0;
	struct timespec t0, t1;
	long long cpu0, cpu1;

	reset();
	go = 0;
	ready = 0;
	for (long i = 0; i < nhandlers; i++) {
		h[i].served = 0;
		if (pipe2(h[i].stop, O_CLOEXEC))
			die("pipe2");
		if (pthread_create(&h[i].t, NULL, handler_main, &h[i]))
			die("pthread_create");
	}
	for (long i = 0; i < nfaulters; i++) {
		f[i].first = i * per;
		f[i].count = i == nfaulters - 1 ? pages - i * per : per;
		if (pthread_create(&f[i].t, NULL, faulter_main, &f[i]))
			die("pthread_create");
	}
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < nfaulters)
		sched_yield();
	cpu0 = process_cpu_ns();
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (long i = 0; i < nfaulters; i++)
		pthread_join(f[i].t, NULL);
	cpu1 = process_cpu_ns();
	for (long i = 0; i < nhandlers; i++) {
		if (poll_mode) {
			if (write(h[i].stop[1], "x", 1) != 1)
				die("write");
		} else {
			pthread_cancel(h[i].t);
		}
	}
	for (long i = 0; i < nhandlers; i++) {
		pthread_join(h[i].t, NULL);
		close(h[i].stop[0]);
		close(h[i].stop[1]);
		served += h[i].served;
	}
	t0 = f[0].t0;
	t1 = f[0].t1;
	for (long i = 1; i < nfaulters; i++) {
		if (f[i].t0.tv_sec < t0.tv_sec || (f[i].t0.tv_sec == t0.tv_sec && f[i].t0.tv_nsec < t0.tv_nsec))
			t0 = f[i].t0;
		if (f[i].t1.tv_sec > t1.tv_sec || (f[i].t1.tv_sec == t1.tv_sec && f[i].t1.tv_nsec > t1.tv_nsec))
			t1 = f[i].t1;
	}
	if (served != pages) {
		fprintf(stderr, "fault-bench: served %ld faults for %ld pages\n", served, pages);
		exit(1);
	}
	if (timed)
		printf("run ns=%lld cpu_ns=%lld faults=%ld served=%ld\n",
		       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
		       cpu1 - cpu0, pages, served);
	fflush(stdout);
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == 0 || *end != 0) {
		fprintf(stderr, "fault-bench: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
		int used = 1;

		if (!strcmp(a, "--kind")) {
			if (!strcmp(v, "copy")) kind = K_COPY;
			else if (!strcmp(v, "zeropage")) kind = K_ZEROPAGE;
			else if (!strcmp(v, "wp")) kind = K_WP;
			else if (!strcmp(v, "minor")) kind = K_MINOR;
			else used = -1;
		} else if (!strcmp(a, "--mem")) {
			if (!strcmp(v, "anon")) shmem = 0;
			else if (!strcmp(v, "shmem")) shmem = 1;
			else used = -1;
		} else if (!strcmp(a, "--mode")) {
			if (!strcmp(v, "poll")) poll_mode = 1;
			else if (!strcmp(v, "read")) poll_mode = 0;
			else used = -1;
		} else if (!strcmp(a, "--loop")) {
			if (!strcmp(v, "selftest")) batch_loop = 0;
			else if (!strcmp(v, "batch")) batch_loop = 1;
			else used = -1;
		} else if (!strcmp(a, "--pages")) pages = num(v);
		else if (!strcmp(a, "--runs")) runs = num(v);
		else if (!strcmp(a, "--warmup")) warmup = num(v);
		else if (!strcmp(a, "--faulters")) nfaulters = num(v);
		else if (!strcmp(a, "--handlers")) nhandlers = num(v);
		else if (!strcmp(a, "--cpu")) cpu = num(v);
		else used = -1;
		if (used < 0) {
			fprintf(stderr, "fault-bench: bad argument %s %s\n", a, v);
			return 2;
		}
		i += used;
	}
	if (kind == K_MINOR && !shmem) {
		fprintf(stderr, "fault-bench: minor faults need --mem shmem\n");
		return 2;
	}
	if (pages < 1 || nfaulters < 1 || nhandlers < 1 || nfaulters > pages || runs < 0 || warmup < 0) {
		fprintf(stderr, "fault-bench: bad sizes\n");
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);
	pin_self();
	setup();
	for (long i = 0; i < warmup; i++)
		run_once(0);
	for (long i = 0; i < runs; i++)
		run_once(1);
	return 0;
}
