// A stack of machine setting changes undone in reverse order (also on
// failure or a signal: SettingChange's registry), and the THP knobs
// uffd-wp-mremap sets: every THP size turned off for the run and one turned
// on around each THP allocation.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SettingChange } from "./restore.ts";
import { readSetting } from "./settings-journal.ts";
import { THP_DIR } from "./sizes.ts";

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

  /** The huge pages these changes hold as this run's share (SettingChange.add). */
  get share(): number {
    return this.#list.reduce((n, c) => n + (c.share ?? 0), 0);
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
  for (const name of readdirSync(THP_DIR)
    .filter((n) => /^hugepages-\d+kB$/.test(n))
    .sort()) {
    for (const knob of ["enabled", "shmem_enabled"]) {
      const path = join(THP_DIR, name, knob);
      if (existsSync(path)) into.add(setKnob(path, "never"));
    }
  }
}
