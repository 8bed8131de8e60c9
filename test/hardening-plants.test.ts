// Tests of the tests: for each kind of check the suite makes, a fault is
// planted on purpose (UFFD_SUITE_PLANT, tests only) and the suite must report
// the case `not ok`, with a `# ` diagnostic right before it saying what was
// expected and what was seen, and exit 1.
import { describe, expect, test } from "bun:test";
import { childEnv, fromSource, REPO } from "./support/binary.ts";

interface Plant {
  /** The kind of check. */
  readonly check: string;
  readonly args: readonly string[];
  readonly plant: string;
  /** The result that must fail. */
  readonly name: string;
  /** The diagnostic right before it. */
  readonly says: RegExp;
}

const PLANTS: readonly Plant[] = [
  // Counter verification: the per-page counters after the pages went through userfaultfd.
  {
    check: "counter verify (events, after fork/remap)",
    args: ["unit", "-f", "events", "--mem", "anon"],
    plant: "counter",
    name: "events on anon",
    says: /page 8191 counter 1, expected 2/,
  },
  {
    check: "counter verify (sigbus, after SIGBUS + COPY)",
    args: ["unit", "-f", "sigbus", "--mem", "anon"],
    plant: "counter",
    name: "sigbus on anon",
    says: /^# counter of page \d+ after SIGBUS and UFFDIO_COPY: expected 0x2, seen 0x1$/,
  },
  // (The verify bounce or the locking loop, whichever reaches the page first.)
  {
    check: "counter verify (stress: verify bounce or locking loop)",
    args: ["stress", "anon", "8", "8"],
    plant: "counter",
    name: "stress anon 8 8",
    says: /^# (verify after bounce \d+ .*: page 1024 counter \d+|page 1024 memory corruption: counter \d+), expected \d+$/,
  },
  // Content verification after a resolving ioctl.
  {
    check: "content after UFFDIO_COPY (poison: odd pages read zero)",
    args: ["unit", "-f", "poison", "--mem", "anon"],
    plant: "content",
    name: "poison on anon",
    says: /^# odd pages read zero: expected 0, seen 1 pages/,
  },
  {
    check: "content after UFFDIO_ZEROPAGE",
    args: ["unit", "-f", "zeropage", "--mem", "anon"],
    plant: "content",
    name: "zeropage on anon",
    says: /^# page after UFFDIO_ZEROPAGE: expected all zero bytes, seen 1 words differ/,
  },
  {
    check: "content after the minor flip + UFFDIO_CONTINUE",
    args: ["unit", "-f", "minor", "--mem", "shmem"],
    plant: "content",
    name: "minor on shmem",
    says: /^# bytes read through the registered view after the minor faults: expected every byte of page p equal to ~\(p % 255\), seen 1 words differ/,
  },
  {
    check: "content after UFFDIO_MOVE",
    args: ["unit", "-f", "move", "--mem", "anon"],
    plant: "content",
    name: "move on anon",
    says: /^# destination after UFFDIO_MOVE: expected the source's bytes, seen 1 words differ/,
  },
  // Fault counts.
  {
    check: "fault count (minor faults, one per page)",
    args: ["unit", "-f", "minor", "--mem", "shmem"],
    plant: "fault-count",
    name: "minor on shmem",
    says: /^# minor faults \(one per page\): expected 8193, seen 8192$/,
  },
  {
    check: "fault count (missing faults, one per page)",
    args: ["unit", "-f", "events", "--mem", "anon"],
    plant: "fault-count",
    name: "events on anon",
    says: /^# missing faults \(one per page\): expected 8192, seen 8191$/,
  },
  {
    check: "fault count (SIGBUS count)",
    args: ["unit", "-f", "poison", "--mem", "anon"],
    plant: "fault-count",
    name: "poison on anon",
    says: /^# pages whose read raised SIGBUS: expected 4096, seen 4095$/,
  },
  {
    check: "fault flags (a first touch must not be a write)",
    args: ["stress", "shmem", "8", "4"],
    plant: "write-first",
    name: "stress shmem 8 4",
    says: /^# unexpected write fault at 0x[0-9a-f]+ \(a first touch must be a read\)$/,
  },
  // The uffd-wp bit in /proc/self/pagemap.
  {
    check: "pagemap uffd-wp bit (wp-unpopulated marker)",
    args: ["unit", "-f", "wp-unpopulated"],
    plant: "pagemap-wp",
    name: "wp-unpopulated on anon",
    says: /^# pagemap uffd-wp bit after UFFDIO_WRITEPROTECT on the empty page: expected clear, seen set$/,
  },
  {
    check: "pagemap uffd-wp bit (wp-fork)",
    args: ["unit", "-f", "wp-fork", "--mem", "anon"],
    plant: "pagemap-wp",
    name: "wp-fork on anon",
    says: /^# pagemap uffd-wp bit after UFFDIO_WRITEPROTECT: expected set, seen clear/,
  },
  {
    check: "pagemap uffd-wp bit set before mremap (wp-mremap)",
    args: ["wp-mremap", "-f", "size=4096, private=false, swapout=false"],
    plant: "pagemap-wp",
    name: "test_one_folio(size=4096, private=false, swapout=false, hugetlb=false)",
    says: /^# uffd-wp not set for pte 0 \(entry 0x[0-9a-f]+\)$/,
  },
  {
    check: "pagemap uffd-wp bit cleared by mremap (wp-mremap)",
    args: ["wp-mremap", "-f", "size=2097152, private=true, swapout=false, hugetlb=false"],
    plant: "mremap",
    name: "test_one_folio(size=2097152, private=true, swapout=false, hugetlb=false)",
    says: /^# uffd-wp not clear for pte 0 \(entry 0x[0-9a-f]+\)$/,
  },
  // EEXIST expectations.
  {
    check: "EEXIST (repeat UFFDIO_ZEROPAGE on a mapped page)",
    args: ["unit", "-f", "zeropage", "--mem", "shmem"],
    plant: "eexist",
    name: "zeropage on shmem",
    says: /^# second UFFDIO_ZEROPAGE on the same page \(alias view\): expected fails, result -EBUSY, seen fails with EEXIST, result -EEXIST$/,
  },
  // Errno expectations of the API checks.
  {
    check: "errno (UFFDIO_API rejects a bad api)",
    args: ["unit", "-f", "UFFDIO_API (with syscall)"],
    plant: "errno",
    name: "UFFDIO_API (with syscall)",
    says: /^# UFFDIO_API with api 0xab: expected fails with EPERM, seen fails with EINVAL$/,
  },
];

describe("a planted fault in each kind of check is reported not ok, with a diagnostic", () => {
  for (const p of PLANTS) {
    test(`${p.check}: UFFD_SUITE_PLANT=${p.plant} uffd-suite ${p.args.join(" ")}`, () => {
      const r = Bun.spawnSync([...fromSource(), ...p.args], {
        cwd: REPO,
        env: childEnv({ UFFD_SUITE_PLANT: p.plant }),
        stdout: "pipe",
        stderr: "pipe",
      });
      const out = r.stdout.toString();
      const lines = out.split("\n");
      const at = lines.findIndex((l) => new RegExp(`^not ok \\d+ ${p.name.replace(/[()]/g, "\\$&")}( # .*)?$`).test(l));
      if (at < 0) throw new Error(`no 'not ok ... ${p.name}' in:\n${out}\n${r.stderr.toString().slice(-2000)}`);
      expect(lines[at - 1]).toMatch(p.says);
      expect(r.exitCode).toBe(1);
    }, 60_000);
  }
});
