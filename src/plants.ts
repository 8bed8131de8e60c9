// Test-only planted faults: UFFD_SUITE_PLANT=name[,name...] breaks one check
// on purpose, so a test can show that check fails (never set in normal
// runs, never in help). A name not listed here is a usage error (exit 2): a
// misspelled plant would otherwise "pass" the test that expects a failure.

/** Every plant, with what it breaks. The cases and runners test for these names. */
export const PLANTS: Readonly<Record<string, string>> = {
  "close-wakes": "close-wakes expects a byte the woken page does not hold",
  content: "a content check (zeropage, minor, move, poison) compares with altered bytes",
  "copied-count": "sigbus: the count of pages the signal path copied in expects one more",
  "copy-dontwake": "copy-dontwake expects the wake of another page to wake the toucher",
  counter: "a counter check (events, sigbus, move, stress) expects another value",
  eexist: "zeropage expects EBUSY where EEXIST is right",
  errno: "an errno check (UFFDIO_API, register, mmap-changing) expects another errno",
  "events-unmap": "events-unmap expects a longer unmap range",
  "exact-address": "exact-address expects the fault one byte further",
  "explore-copy-page": "explore: COPY resolves from the next source page",
  "explore-mremap-wp": "explore: the uffd-wp bits of an area moved by mremap are cleared behind the model's back",
  "explore-skip-wake": "explore: a DONTWAKE resolve is never followed by its wake",
  "fault-count": "a fault count (events, minor, move, poison) is off by one",
  "fork-count": "the fork event count (events, sigbus) expects one more",
  ioctls: "register-ioctls expects an ioctl the kernel does not offer",
  "minor-count": "move: the minor-fault count (none) expects one",
  "missing-count": "a missing-fault count (poison's handler, minor's none) expects one more",
  mremap: "wp-mremap leaves out the mremap, so the uffd-wp bit stays",
  "page-tag": "stress: a source page carries the next page's tag (only the verify pass reads tags)",
  "pagemap-wp": "a pagemap uffd-wp check (wp-unpopulated, wp-fork, wp-mremap) sees the wrong bit",
  "register-errors": "register-errors expects EBUSY for its first row",
  "restore-skip": "the first huge-page share given back is forgotten, so the environment check must fail the run",
  release: "sigbus-wp leaves the pages in place, so the child takes no SIGBUS",
  "remap-count": "events: the remap event count expects one more",
  "remove-count": "events: the remove event count expects more than came",
  "sigbus-count": "a SIGBUS count (sigbus-wp in-process, poison) expects one more",
  "sigbus-ioctl": "sigbus: the signal path's UFFDIO_COPY fails (an unknown request), so the case must fail with that error",
  "sigbus-wrong-page": "sigbus: the signal path resolves each page with the next source page (wrong offset)",
  "thread-id": "thread-id expects another thread id",
  "user-mode-only": "user-mode-only expects a kernel-mode fault to succeed",
  "userfault-count": "sigbus: the forked child's userfault count (none) expects one",
  "wp-async": "wp-async expects a page more to be written",
  "wp-count": "events-wp resolves without write-protect, so no wp fault comes; move's wp count (none) expects one",
  "write-first": "stress: the locking loops write before they lock (a write as first touch)",
  "wrong-page": "handlers resolve each missing fault with the next source page (wrong offset)",
};

/** The names in UFFD_SUITE_PLANT, in order, without blanks. */
export function plantNames(env: Record<string, string | undefined> = process.env): string[] {
  return (env.UFFD_SUITE_PLANT ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The names in UFFD_SUITE_PLANT that are no plant. */
export function unknownPlants(env: Record<string, string | undefined> = process.env): string[] {
  return plantNames(env).filter((n) => !Object.hasOwn(PLANTS, n));
}
