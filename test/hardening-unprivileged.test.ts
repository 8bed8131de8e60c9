// The compiled binary as user nobody. Since Linux 5.11 anyone may create a
// userfaultfd with UFFD_USER_MODE_ONLY, whatever vm.unprivileged_userfaultfd
// says; only where the system call itself is refused (a seccomp filter, as
// container runtimes install) and /dev/userfaultfd is root's alone can no
// userfaultfd be had. Each situation must give skips naming what is missing
// (never failures), the right exit code, and nothing written to /proc or /sys.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SettingChange } from "../src/machine/restore.ts";
import { childEnv, compiledBinary, REPO } from "./support/binary.ts";
import { changes, snapshot } from "./support/system.ts";

const NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];
const DENY_UFFD = [process.execPath, join(REPO, "test/support/deny-uffd.ts")];
const NO_PERMISSION = "no permission to create a userfaultfd (needs root, vm.unprivileged_userfaultfd=1 or access to /dev/userfaultfd)";
const UNPRIV = "/proc/sys/vm/unprivileged_userfaultfd";
const NR = "/proc/sys/vm/nr_hugepages";
const HAVE_STRACE = Bun.which("strace") !== null;

interface Ran {
  code: number | null;
  out: string;
  err: string;
  /** Opens for writing under /proc or /sys (strace), when strace is there. */
  writes: string[];
}

/**
 * strace itself now and then fails on this kernel (about 1 traced run in 12,
 * with the shipped binary and the one before this change alike):
 * "strace: ptrace(PTRACE_LISTEN, …): Input/output error", after which it
 * sends the traced run SIGTERM. That is the tracer's failure, not the
 * suite's: such a run is made again, once.
 */
function run(cmd: string[], opts: { trace?: boolean } = {}): Ran {
  const r = runOnce(cmd, opts);
  return opts.trace && /^strace: ptrace\(/m.test(r.err) ? runOnce(cmd, opts) : r;
}

function runOnce(cmd: string[], opts: { trace?: boolean }): Ran {
  const dir = mkdtempSync(join(tmpdir(), "uffd-unpriv-"));
  const log = join(dir, "strace.log");
  const trace = opts.trace && HAVE_STRACE ? ["strace", "-f", "-qq", "-e", "trace=open,openat,creat,truncate", "-o", log] : [];
  try {
    const p = Bun.spawnSync([...trace, ...cmd], { cwd: "/tmp", env: childEnv(), stdout: "pipe", stderr: "pipe" });
    const writes =
      trace.length === 0
        ? []
        : readFileSync(log, "utf8")
            .split("\n")
            .filter((l) => /"\/(proc|sys)\//.test(l) && /O_WRONLY|O_RDWR|O_TRUNC|O_CREAT|truncate\(/.test(l))
            // The pin tests' gup_test device is opened read-write to issue ioctls: no setting.
            .filter((l) => !l.includes('"/sys/kernel/debug/gup_test"'));
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString(), writes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function results(out: string): string[] {
  return out.split("\n").filter((l) => /^(not )?ok \d+ /.test(l));
}

const initial = snapshot();
let bin: string;
beforeAll(() => {
  bin = compiledBinary();
});

describe("nobody, userfaultfd() refused (seccomp), /dev/userfaultfd root's only", () => {
  for (const [cmd, startsWith] of [
    [["unit"], true],
    [["wp-mremap"], true],
    [["stress", "anon", "8", "4"], false],
  ] as const) {
    test(`${cmd.join(" ")}: every case skips for want of permission, exit 4, nothing written`, () => {
      const before = snapshot();
      const r = run([...DENY_UFFD, ...NOBODY, bin, ...cmd], { trace: cmd[0] === "unit" });
      expect(r.code).toBe(4);
      const lines = results(r.out);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) {
        expect(l).toMatch(/^ok \d+ [^#]+ # SKIP /);
        const reason = l.slice(l.indexOf("# SKIP ") + 7);
        if (startsWith) expect(reason.startsWith(NO_PERMISSION)).toBe(true);
        else expect(reason).toContain(NO_PERMISSION);
      }
      expect(r.out).toMatch(/^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:\d+ error:0$/m);
      expect(r.writes).toEqual([]);
      expect(changes(before, snapshot())).toEqual([]);
    }, 60_000);
  }
});

describe("nobody, vm.unprivileged_userfaultfd=0: user-mode-only userfaultfds", () => {
  let sysctl: SettingChange | undefined;
  beforeAll(() => {
    sysctl = SettingChange.set(UNPRIV, "0", { journal: false });
  });
  afterAll(() => sysctl?.dispose());

  test("unit runs what it can; the rest skips naming why; no failure, nothing written", () => {
    const before = snapshot();
    const r = run([...NOBODY, bin, "unit"], { trace: true });
    if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.out}\n${r.err}`);
    const lines = results(r.out);
    expect(lines.filter((l) => l.startsWith("not ok"))).toEqual([]);
    const skips = lines.filter((l) => l.includes("# SKIP "));
    // EVENT_FORK needs CAP_SYS_PTRACE: the fork-event cases skip with that reason.
    expect(lines.find((l) => / events on anon /.test(`${l} `))).toMatch(
      /# SKIP EVENT_FORK not permitted \(UFFDIO_API: EPERM; needs CAP_SYS_PTRACE\)$/,
    );
    expect(lines.find((l) => l.includes(" sigbus on shmem"))).toContain("# SKIP EVENT_FORK not permitted");
    // Kernel-mode faults need the sysctl (or CAP_SYS_PTRACE).
    expect(lines.find((l) => l.includes(" user-mode-only on anon"))).toMatch(/# SKIP .*vm\.unprivileged_userfaultfd=1/);
    expect(lines.find((l) => l.includes("UFFDIO_API (with /dev/userfaultfd)"))).toContain(`# SKIP ${NO_PERMISSION}`);
    for (const l of skips) expect(l.slice(l.indexOf("# SKIP ") + 7).length).toBeGreaterThan(10);
    // What needs no privilege ran.
    for (const name of ["UFFDIO_API (with syscall)", "zeropage on anon", "wp-fork on anon", "minor on shmem"])
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ok \\d+ ${name.replace(/[()]/g, "\\$&")}$`)));
    expect(r.writes).toEqual([]);
    expect(changes(before, snapshot())).toEqual([]);
  }, 90_000);

  test("wp-mremap: THP cases skip (changing THP settings needs root), base pages pass, nothing written", () => {
    const before = snapshot();
    const r = run([...NOBODY, bin, "wp-mremap"], { trace: true });
    expect(r.code).toBe(0);
    const lines = results(r.out);
    expect(lines.filter((l) => l.startsWith("not ok"))).toEqual([]);
    expect(lines.find((l) => l.includes("size=2097152, private=true, swapout=false, hugetlb=false"))).toMatch(
      /# SKIP THP sizes not switched on \(changing THP settings needs root\)$/,
    );
    expect(lines[0]).toMatch(/^ok 1 test_one_folio\(size=4096, private=false, swapout=false, hugetlb=false\)$/);
    expect(r.writes).toEqual([]);
    expect(changes(before, snapshot())).toEqual([]);
  }, 60_000);
});

describe("nobody, vm.unprivileged_userfaultfd=1 and no free huge pages", () => {
  const changed: SettingChange[] = [];
  beforeAll(() => {
    changed.push(SettingChange.set(UNPRIV, "1", { journal: false }), SettingChange.set(NR, "0", { journal: false }));
  });
  afterAll(() => {
    for (const c of changed.reverse()) c.dispose();
  });

  test("kernel-mode faults run; hugetlb cases skip with the shortage (reserving needs root); EVENT_FORK still needs CAP_SYS_PTRACE", () => {
    const before = snapshot();
    expect(before[UNPRIV]).toBe("1");
    const r = run([...NOBODY, bin, "unit"]);
    if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.out}\n${r.err}`);
    const lines = results(r.out);
    expect(lines.filter((l) => l.startsWith("not ok"))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^ok \d+ user-mode-only on anon$/));
    const hugetlb = lines.filter((l) => / on hugetlb(-private)?( |$)/.test(l));
    expect(hugetlb.length).toBeGreaterThan(10);
    for (const l of hugetlb)
      expect(l).toMatch(
        /# SKIP (not enough HugeTLB pages \(need \d+, free 0\)|EVENT_FORK not permitted .*|CONFIG_GUP_TEST missing|feature missing: .*)$/,
      );
    expect(lines.find((l) => l.includes(" wp-fork-pin on anon"))).toMatch(/# SKIP CONFIG_GUP_TEST missing$|^ok \d+ wp-fork-pin on anon$/);
    expect(r.err).toContain("not root: using the 0 free huge pages as they are");
    expect(changes(before, snapshot())).toEqual([]);
  }, 90_000);
});

test("every setting these tests changed is back as it was", () => {
  expect(changes(initial, snapshot())).toEqual([]);
});
