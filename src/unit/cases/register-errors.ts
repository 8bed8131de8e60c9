// register-errors (ours): the errors of REGISTER, UNREGISTER and the
// resolving ioctls, each on a fresh mapping and a fresh uffd, against what
// Linux 6.x returns (fs/userfaultfd.c, mm/userfaultfd.c):
// - validate_range(): start or length not page-aligned, length 0, a range
//   past the task size: EINVAL; a hugetlb range not aligned to its huge
//   page: EINVAL. Mode 0 or unknown mode bits: EINVAL.
// - REGISTER where no mapping is: EINVAL. Holes are not an error: the kernel
//   registers the mappings it finds in the range (so does a range running
//   past the end of a mapping). Owned by another uffd: EBUSY. UNREGISTER
//   there: EINVAL since the 2025 ABI change ("userfaultfd: prevent
//   unregistering VMAs through a different userfaultfd", not backported);
//   older kernels return 0 and that is accepted, with a note saying which.
// - COPY, ZEROPAGE, CONTINUE, POISON on a range no uffd registered, or
//   running past the registered one: ENOENT, with -ENOENT in the result
//   field; WRITEPROTECT there or on a range registered without WP: ENOENT;
//   MOVE into an unregistered range: EINVAL; WAKE: 0 (nobody to wake).
// - COPY with MODE_WP into a range registered without WP: EINVAL.
// (ENOMEM is returned only while the process is exiting: not testable.)
import { Area, type MemoryType, pageSizeOf } from "../../harness/memory.ts";
import { errnoName, SysError } from "../../sys/errno.ts";
import { PAGE_SIZE, Scratch } from "../../sys/mem.ts";
import type { FeatureSet } from "../../uffd/bits.ts";
import { COPY_MODE, type FeatureName, REGISTER_MODE, WRITEPROTECT_MODE } from "../../uffd/constants.ts";
import { Uffd } from "../../uffd/uffd.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { needFeatures, planted } from "./beyond-kit.ts";

interface Fixture {
  readonly mem: MemoryType;
  /** Four pages of the memory type, nothing registered. */
  readonly area: Area;
  readonly u: Uffd;
  /** A second uffd (made on first use). */
  other(): Uffd;
  /** Memory page size, and a page of source bytes for COPY. */
  readonly ps: number;
  readonly src: number;
  page(n: number): number;
}

interface Row {
  readonly what: string;
  /** The errno name, or "0" for success. */
  readonly expect: string;
  /** What an older kernel line documents instead (also accepted; the case notes which one it saw). */
  readonly older?: { readonly seen: string; readonly why: string };
  /** Where the kernel writes the result field: what it must hold. */
  readonly result?: string;
  readonly when?: (mem: MemoryType, kernel: FeatureSet) => boolean;
  /** 0 or -errno of the call under test. */
  readonly run: (f: Fixture) => number;
}

const M = REGISTER_MODE.MISSING;
const huge = (m: MemoryType) => m.hugetlb;
const has = (f: FeatureName) => (_: MemoryType, k: FeatureSet) => k.has(f);
/** UFFDIO_CONTINUE came with minor faults (Linux 5.13); before, the ioctl is unknown (EINVAL). */
const continueKnown = (_: MemoryType, k: FeatureSet) => k.has("MINOR_HUGETLBFS") || k.has("MINOR_SHMEM");
const wpOk = (m: MemoryType, k: FeatureSet) => k.missing([...m.offers.wp]).length === 0;

function call(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (e) {
    if (e instanceof SysError) return -e.errno;
    throw e;
  }
}
const reg = (u: Uffd, start: number, len: number, mode: number = M) => call(() => u.registerMode({ start, len }, mode));
const unreg = (u: Uffd, start: number, len: number) => call(() => u.unregister({ start, len }));
/** Register pages 0-1 for missing faults. */
const registered = (f: Fixture) => f.u.register({ start: f.page(0), len: 2 * f.ps }, { missing: true });

const ROWS: readonly Row[] = [
  { what: "REGISTER, start not page-aligned", expect: "EINVAL", run: (f) => reg(f.u, f.page(0) + 1, f.ps) },
  { what: "REGISTER, length not page-aligned", expect: "EINVAL", run: (f) => reg(f.u, f.page(0), f.ps + 1) },
  { what: "REGISTER, length 0", expect: "EINVAL", run: (f) => reg(f.u, f.page(0), 0) },
  { what: "REGISTER, start not huge-page-aligned", expect: "EINVAL", when: huge, run: (f) => reg(f.u, f.page(0) + PAGE_SIZE, f.ps) },
  { what: "REGISTER, length not a whole huge page", expect: "EINVAL", when: huge, run: (f) => reg(f.u, f.page(0), f.ps + PAGE_SIZE) },
  { what: "REGISTER, mode 0", expect: "EINVAL", run: (f) => reg(f.u, f.page(0), f.ps, 0) },
  { what: "REGISTER, unknown mode bit 1<<3", expect: "EINVAL", run: (f) => reg(f.u, f.page(0), f.ps, M | 8) },
  { what: "REGISTER, unknown mode bit 1<<32", expect: "EINVAL", run: (f) => reg(f.u, f.page(0), f.ps, M + 2 ** 32) },
  { what: "REGISTER where nothing is mapped", expect: "EINVAL", run: (f) => (f.area.unmap(f.page(2), f.ps), reg(f.u, f.page(2), f.ps)) },
  { what: "REGISTER past the task size", expect: "EINVAL", run: (f) => reg(f.u, 2 ** 56, f.ps) },
  {
    what: "REGISTER across a hole (then COPY after the hole)",
    expect: "0",
    run: (f) => (f.area.unmap(f.page(1), f.ps), reg(f.u, f.page(0), 3 * f.ps) || f.u.tryCopy(f.page(2), f.src, f.ps, 0)),
  },
  {
    what: "REGISTER past the end of the mapping (then COPY into it)",
    expect: "0",
    run: (f) => (f.area.unmap(f.page(2), 2 * f.ps), reg(f.u, f.page(1), 4 * f.ps) || f.u.tryCopy(f.page(1), f.src, f.ps, 0)),
  },
  { what: "REGISTER of a range another uffd registered", expect: "EBUSY", run: (f) => (registered(f), reg(f.other(), f.page(0), f.ps)) },
  {
    what: "REGISTER of a range partly registered by another uffd",
    expect: "EBUSY",
    run: (f) => (registered(f), reg(f.other(), f.page(1), 2 * f.ps)),
  },
  {
    what: "UNREGISTER of a range another uffd registered",
    expect: "EINVAL",
    older: { seen: "0", why: "allowed before the 2025 ABI change that made it EINVAL" },
    run: (f) => (registered(f), unreg(f.other(), f.page(0), f.ps)),
  },
  {
    what: "UNREGISTER where nothing is mapped",
    expect: "EINVAL",
    run: (f) => (f.area.unmap(f.page(2), f.ps), unreg(f.u, f.page(2), f.ps)),
  },
  { what: "UNREGISTER of a range never registered", expect: "0", run: (f) => unreg(f.u, f.page(0), f.ps) },
  { what: "COPY into an unregistered range", expect: "ENOENT", result: "-ENOENT", run: (f) => f.u.tryCopy(f.page(0), f.src, f.ps, 0) },
  { what: "ZEROPAGE on an unregistered range", expect: "ENOENT", result: "-ENOENT", run: (f) => f.u.tryZeropage(f.page(0), f.ps) },
  {
    what: "CONTINUE on an unregistered range",
    expect: "ENOENT",
    result: "-ENOENT",
    when: continueKnown,
    run: (f) => f.u.tryContinue(f.page(0), f.ps),
  },
  {
    what: "POISON on an unregistered range",
    expect: "ENOENT",
    result: "-ENOENT",
    when: has("POISON"),
    run: (f) => f.u.tryPoison(f.page(0), f.ps),
  },
  {
    what: "WRITEPROTECT on an unregistered range",
    expect: "ENOENT",
    run: (f) => f.u.tryWriteProtect(f.page(0), f.ps, WRITEPROTECT_MODE.WP),
  },
  {
    what: "MOVE into an unregistered range",
    expect: "EINVAL",
    result: "-EINVAL",
    when: has("MOVE"),
    run: (f) => f.u.tryMove(f.page(0), f.src, f.ps, 0),
  },
  { what: "WAKE on an unregistered range", expect: "0", run: (f) => f.u.tryWake(f.page(0), f.ps) },
  {
    what: "COPY running past the registered range",
    expect: "ENOENT",
    result: "-ENOENT",
    run: (f) => (registered(f), f.u.tryCopy(f.page(1), f.src, 2 * f.ps, 0)),
  },
  {
    what: "COPY with MODE_WP into a range registered without WP",
    expect: "EINVAL",
    result: "-EINVAL",
    run: (f) => (registered(f), f.u.tryCopy(f.page(0), f.src, f.ps, COPY_MODE.WP)),
  },
  {
    what: "WRITEPROTECT on a range registered without WP",
    expect: "ENOENT",
    run: (f) => (registered(f), f.u.tryWriteProtect(f.page(0), f.ps, WRITEPROTECT_MODE.WP)),
  },
  { what: "COPY with unknown mode bit 1<<2", expect: "EINVAL", run: (f) => (registered(f), f.u.tryCopy(f.page(0), f.src, f.ps, 4)) },
  {
    what: "COPY to a destination not page-aligned",
    expect: "EINVAL",
    run: (f) => (registered(f), f.u.tryCopy(f.page(0) + 8, f.src, f.ps, 0)),
  },
  { what: "COPY of a length not page-aligned", expect: "EINVAL", run: (f) => (registered(f), f.u.tryCopy(f.page(0), f.src, f.ps - 8, 0)) },
  {
    what: "COPY of one base page into a huge page range",
    expect: "EINVAL",
    result: "-EINVAL",
    when: huge,
    run: (f) => (registered(f), f.u.tryCopy(f.page(0), f.src, PAGE_SIZE, 0)),
  },
  {
    what: "WRITEPROTECT with MODE_WP|MODE_DONTWAKE",
    expect: "EINVAL",
    when: wpOk,
    run: (f) => (
      f.u.register({ start: f.page(0), len: f.ps }, { wp: true }),
      f.u.tryWriteProtect(f.page(0), f.ps, WRITEPROTECT_MODE.WP | WRITEPROTECT_MODE.DONTWAKE)
    ),
  },
];

interface RowOutcome {
  /** "" when it returned what it must, else what it did. */
  readonly bad: string;
  /** Set where the row has an older behaviour: which of the two this kernel showed. */
  readonly behaviour?: string;
}

/** Run one row on a fresh mapping and uffd. */
function runRow(row: Row, mem: MemoryType, features: readonly FeatureName[], src: Scratch, expect: string): RowOutcome {
  const area = Area.allocate(mem, 4 * pageSizeOf(mem), { role: "dst" });
  const u = Uffd.create({ features });
  let second: Uffd | undefined;
  try {
    const f: Fixture = {
      mem,
      area,
      u,
      ps: area.pageSize,
      src: src.addr,
      other: () => (second ??= Uffd.create({ features })),
      page: (n) => area.addr + n * area.pageSize,
    };
    u.lastResult = 0;
    const rc = row.run(f);
    const seen = rc === 0 ? "0" : errnoName(-rc);
    const result = u.lastResult === 0 ? "0" : u.lastResult < 0 ? `-${errnoName(-u.lastResult)}` : String(u.lastResult);
    const older = row.older && seen === row.older.seen && expect === row.expect;
    const behaviour = row.older && `${row.what}: ${seen}${older ? ` (${row.older.why})` : seen === expect ? " (current behaviour)" : ""}`;
    if (seen !== expect && !older) {
      const also = row.older ? ` or ${row.older.seen} (${row.older.why})` : "";
      return { bad: `${row.what}: expected ${expect}${also}, seen ${seen}`, behaviour };
    }
    if (row.result && result !== row.result) return { bad: `${row.what}: expected result field ${row.result}, seen ${result}`, behaviour };
    return { bad: "", behaviour };
  } finally {
    second?.close();
    u.close();
    area.dispose();
  }
}

function registerErrors(t: CaseRun): void {
  const mem = t.mem!;
  const wp: readonly FeatureName[] = wpOk(mem, t.kernel) ? mem.offers.wp : [];
  const features = needFeatures(t, wp);
  const src = new Scratch(pageSizeOf(mem));
  t.defer(() => src.dispose());
  const rows = ROWS.filter((r) => !r.when || r.when(mem, t.kernel));
  const wrong: string[] = [];
  rows.forEach((row, i) => {
    const expect = i === 0 && planted(t, "register-errors") ? "EBUSY" : row.expect;
    const { bad, behaviour } = runRow(row, mem, features, src, expect);
    if (bad) wrong.push(bad);
    if (behaviour) t.note(behaviour);
  });
  t.note(`${rows.length} calls checked`);
  t.check(wrong.length === 0, `${wrong.length} of ${rows.length} calls`, {
    expected: "the errno the kernel documents",
    seen: wrong.join("; "),
  });
}

export const registerErrorsCases: readonly UnitCase[] = [
  {
    name: "register-errors",
    description: "REGISTER/UNREGISTER and resolving-ioctl errors (unaligned, holes, unmapped, other uffd, bad modes) vs what 6.x returns",
    memory: ALL_MEMORY,
    features: [],
    hugepages: 4,
    origin: "suite",
    run: registerErrors,
  },
];
