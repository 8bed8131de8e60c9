// What the suite may change on the machine, read as one snapshot (to compare
// before and after a run), and the processes a run left behind, found by a
// marker in their environment (inherited by case processes and their forks).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const THP = "/sys/kernel/mm/transparent_hugepage";
const HUGETLB = "/sys/kernel/mm/hugepages";

function files(): string[] {
  const out = [
    "/proc/sys/vm/nr_hugepages",
    "/proc/sys/vm/nr_overcommit_hugepages",
    "/proc/sys/vm/unprivileged_userfaultfd",
    join(THP, "enabled"),
    join(THP, "shmem_enabled"),
    join(THP, "defrag"),
    join(THP, "use_zero_page"),
  ];
  const dirs = (d: string) =>
    existsSync(d)
      ? readdirSync(d)
          .filter((n) => /^hugepages-\d+kB$/.test(n))
          .sort()
      : [];
  for (const n of dirs(THP)) out.push(join(THP, n, "enabled"), join(THP, n, "shmem_enabled"));
  for (const n of dirs(HUGETLB)) out.push(join(HUGETLB, n, "nr_hugepages"), join(HUGETLB, n, "nr_overcommit_hugepages"));
  return out.filter((f) => existsSync(f));
}

export type Snapshot = Record<string, string>;

/** nr_hugepages (every size), THP knobs (every size), vm.unprivileged_userfaultfd. */
export function snapshot(): Snapshot {
  const s: Snapshot = {};
  for (const f of files()) s[f] = readFileSync(f, "utf8").trim();
  return s;
}

/** The entries of `after` that differ from `before`, as "path: before -> after". */
export function changes(before: Snapshot, after: Snapshot): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).map((k) => `${k}: ${before[k]} -> ${after[k]}`);
}

/** A marker for a child's environment: everything started from it carries it. */
export function newMarker(): { name: string; value: string } {
  return { name: "UFFD_SUITE_TEST_MARK", value: `${process.pid}-${Math.random().toString(36).slice(2)}` };
}

/** Live processes (zombies included) whose environment carries the marker: "pid state cmdline". */
export function marked(marker: { name: string; value: string }): string[] {
  const needle = `${marker.name}=${marker.value}`;
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (!env.includes(needle)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = /\) (\S)/.exec(stat)?.[1] ?? "?";
      found.push(`${pid} ${state} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()}`);
    } catch {
      // gone meanwhile, or a zombie whose environ cannot be read
    }
  }
  return found;
}

/** SIGKILL every live process that carries the marker (cleanup after a failed test); returns those signalled. */
export function killMarked(marker: { name: string; value: string }): string[] {
  const killed: string[] = [];
  for (const line of marked(marker)) {
    try {
      process.kill(Number(line.split(" ")[0]), "SIGKILL");
      killed.push(line);
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** Wait until `probe` returns an empty list (or `ms` pass); returns what is left. */
export async function untilEmpty(probe: () => string[], ms = 5000): Promise<string[]> {
  const end = performance.now() + ms;
  for (;;) {
    const left = probe();
    if (left.length === 0 || performance.now() > end) return left;
    await Bun.sleep(50);
  }
}
