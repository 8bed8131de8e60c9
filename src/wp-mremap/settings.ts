// The machine settings uffd-wp-mremap changes, each put back afterwards
// (also on failure or a signal: SettingChange's registry): every THP size
// turned off for the run and one turned on around each THP allocation; one
// free hugetlb page of each size.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SettingChange } from "../harness/restore.ts";
import { readSetting } from "../harness/settings-journal.ts";
import { hugetlbDir, readCount, THP_DIR } from "./sizes.ts";

/** Set a knob unless it already holds `value`; the change (if any) goes back on dispose. */
export function setKnob(path: string, value: string): SettingChange | undefined {
  return readSetting(path) === value ? undefined : SettingChange.set(path, value);
}

/** A stack of changes undone in reverse order. */
export class Changes implements Disposable {
  readonly #list: SettingChange[] = [];

  add(c: SettingChange | undefined): void {
    if (c) this.#list.push(c);
  }

  get size(): number {
    return this.#list.length;
  }

  dispose(): void {
    const failures: string[] = [];
    for (const c of this.#list.splice(0).reverse()) {
      try {
        c.dispose();
      } catch (e) {
        failures.push(`${c.path}: ${(e as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`could not restore ${failures.join("; ")}`);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Turn every THP size off (anon `enabled` and `shmem_enabled`), as the C does before its cases. */
export function disableAllThp(into: Changes): void {
  for (const name of readdirSync(THP_DIR).filter((n) => /^hugepages-\d+kB$/.test(n)).sort()) {
    for (const knob of ["enabled", "shmem_enabled"]) {
      const path = join(THP_DIR, name, knob);
      if (existsSync(path)) into.add(setKnob(path, "never"));
    }
  }
}

/** Without changing anything: the skip reason when no hugetlb page of `size` is free. */
export function freeHugetlbShortage(size: number): string | undefined {
  const free = readCount(join(hugetlbDir(size), "free_hugepages"));
  return free >= 1 ? undefined : `not enough HugeTLB pages (need 1 of ${size / 1024} KiB, free ${free})`;
}

/**
 * One hugetlb page of `size` for this run: that size's nr_hugepages is
 * raised by one on top of whatever it is (a free page may be another
 * run's), and lowered by one afterwards. Where the kernel grants none (a
 * size it cannot allocate now, like 1 GiB pages set aside at boot), a page
 * already free will do. Returns the skip reason when none can be had.
 */
export function reserveOneHugetlbPage(size: number, into: Changes): string | undefined {
  const dir = hugetlbDir(size);
  const free = () => readCount(join(dir, "free_hugepages")) - readCount(join(dir, "resv_hugepages"));
  try {
    const c = SettingChange.add(join(dir, "nr_hugepages"), 1);
    if (c.share === 0) c.dispose();
    else into.add(c);
  } catch (e) {
    return `not enough HugeTLB pages (need 1 of ${size / 1024} KiB; could not reserve one for this run: ${(e as Error).message})`;
  }
  const after = free();
  return after >= 1 ? undefined : `not enough HugeTLB pages (need 1 of ${size / 1024} KiB, free ${after})`;
}
