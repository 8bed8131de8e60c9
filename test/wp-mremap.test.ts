// uffd-suite wp-mremap on the real kernel: the whole run through the CLI
// (KTAP, exit codes, settings restored), planted faults that must fail, and
// the case plan in the C program's order.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { caseName, planCases } from "../src/wp-mremap/run.ts";
import { HUGETLB_DIR, hugetlbSizes, THP_DIR, thpSizes } from "../src/machine/sizes.ts";
import { childEnv } from "./support/binary.ts";

const MAIN = join(import.meta.dir, "../src/main.ts");

/** Killed past this, so a hang fails the test with what it wrote instead of outliving the test's own limit. */
const RUN_TIMEOUT_MS = 50_000;

function run(args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const p = Bun.spawnSync([process.execPath, MAIN, "wp-mremap", ...args], {
    env: childEnv({ NO_COLOR: "1", ...env }),
    stdout: "pipe",
    stderr: "pipe",
    timeout: RUN_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  const err = p.stderr.toString() + (p.exitedDueToTimeout ? `\n(killed after ${RUN_TIMEOUT_MS} ms)` : "");
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err };
}

/** Every knob wp-mremap may change, with its current value. */
function settings(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of readdirSync(THP_DIR).filter((n) => n.startsWith("hugepages-"))) {
    for (const k of ["enabled", "shmem_enabled"]) {
      const p = join(THP_DIR, d, k);
      if (existsSync(p)) out[p] = readFileSync(p, "utf8").trim();
    }
  }
  for (const d of readdirSync(HUGETLB_DIR)) {
    const p = join(HUGETLB_DIR, d, "nr_hugepages");
    out[p] = readFileSync(p, "utf8").trim();
  }
  return out;
}

const results = (out: string) => out.split("\n").filter((l) => /^(not )?ok \d+ /.test(l));

describe("plan", () => {
  test("the C program's cases and order: base pages, THP sizes, hugetlb sizes", () => {
    const names = planCases({ thp: [16384, 2097152], hugetlb: [2097152] }).map(caseName);
    expect(names).toEqual([
      "test_one_folio(size=4096, private=false, swapout=false, hugetlb=false)",
      "test_one_folio(size=4096, private=true, swapout=false, hugetlb=false)",
      "test_one_folio(size=4096, private=false, swapout=true, hugetlb=false)",
      "test_one_folio(size=4096, private=true, swapout=true, hugetlb=false)",
      "test_one_folio(size=16384, private=false, swapout=false, hugetlb=false)",
      "test_one_folio(size=2097152, private=false, swapout=false, hugetlb=false)",
      "test_one_folio(size=16384, private=true, swapout=false, hugetlb=false)",
      "test_one_folio(size=2097152, private=true, swapout=false, hugetlb=false)",
      "test_one_folio(size=16384, private=false, swapout=true, hugetlb=false)",
      "test_one_folio(size=2097152, private=false, swapout=true, hugetlb=false)",
      "test_one_folio(size=16384, private=true, swapout=true, hugetlb=false)",
      "test_one_folio(size=2097152, private=true, swapout=true, hugetlb=false)",
      "test_one_folio(size=2097152, private=false, swapout=false, hugetlb=true)",
      "test_one_folio(size=2097152, private=true, swapout=false, hugetlb=true)",
    ]);
  });
});

describe("uffd-suite wp-mremap", () => {
  test("full run: 0 fail, every planned case reported, settings put back", () => {
    const before = settings();
    const r = run([]);
    expect(settings()).toEqual(before);
    const lines = results(r.out);
    const planned = 4 + 4 * thpSizes().length + 2 * hugetlbSizes().length;
    console.log(`# ${r.err.trim().split("\n").at(-1)}`);
    expect(r.out.startsWith(`TAP version 13\n1..${planned}\n`)).toBe(true);
    expect(lines.length).toBe(planned);
    expect(lines.filter((l) => l.startsWith("not ok"))).toEqual([]);
    // Skips name the case and the reason; the only skip here is swap-out without swap.
    for (const l of lines.filter((x) => x.includes("# SKIP"))) {
      expect(l).toMatch(/^ok \d+ test_one_folio\(.*\) # SKIP (no swap: |not enough HugeTLB pages)/);
    }
    const totals = /# Totals: pass:(\d+) fail:0 xfail:0 xpass:0 skip:(\d+) error:0/.exec(r.out);
    expect(totals).not.toBeNull();
    expect(Number(totals![1]) + Number(totals![2])).toBe(planned);
    expect(Number(totals![1])).toBeGreaterThan(0);
    expect(r.code).toBe(0);
  });

  test("planted: no mremap, so the bits stay: fail, exit 1", () => {
    const r = run(["-f", "size=4096, private=false"], { UFFD_SUITE_PLANT: "mremap" });
    expect(results(r.out)[0]).toBe("not ok 1 test_one_folio(size=4096, private=false, swapout=false, hugetlb=false)");
    expect(r.out).toContain("# uffd-wp not clear for pte 0");
    expect(r.code).toBe(1);
  });

  test("planted: no write-protect: the bits are not set before mremap: fail, exit 1", () => {
    const r = run(["-f", "size=2097152, private=true, swapout=false, hugetlb=false"], { UFFD_SUITE_PLANT: "pagemap-wp" });
    expect(r.out).toContain("# uffd-wp not set for pte 0");
    expect(results(r.out)).toEqual(["not ok 1 test_one_folio(size=2097152, private=true, swapout=false, hugetlb=false)"]);
    expect(r.code).toBe(1);
  });

  test("all cases skipped: exit 4; an unknown filter: exit 2; -l lists", () => {
    const swap = readFileSync("/proc/swaps", "utf8").trim().split("\n").length > 1;
    if (!swap) expect(run(["-f", "private=true, swapout=true"]).code).toBe(4);
    expect(run(["-f", "no-such-case"]).code).toBe(2);
    const list = run(["-l"]);
    expect(list.code).toBe(0);
    expect(list.out.trim().split("\n")[0]).toBe("test_one_folio(size=4096, private=false, swapout=false, hugetlb=false)");
  });
});
