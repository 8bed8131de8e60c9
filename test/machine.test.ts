// src/machine: the one huge-page policy's guards and the reverse-order undo
// stack. (Signals, the journal and the lock: hardening-signals,
// settings-journal and hardening-hostile.)
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { meminfoKb } from "../src/harness/memory.ts";
import { Changes } from "../src/machine/changes.ts";
import { HugepageLimit, hugepageShortage, hugepageState, mayChangeSettings, reserveHugepages } from "../src/machine/hugepages.ts";
import { SettingChange } from "../src/machine/restore.ts";
import { hugetlbSizes } from "../src/machine/sizes.ts";

const root = process.getuid?.() === 0;
const tmp = mkdtempSync(join(tmpdir(), "uffd-suite-machine-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("undo stack", () => {
  test("changes are undone last first, so a path changed twice ends as it was found", () => {
    const path = join(tmp, "knob");
    writeFileSync(path, "a");
    const changes = new Changes();
    changes.add(SettingChange.set(path, "b", { journal: false }));
    changes.add(SettingChange.set(path, "c", { journal: false }));
    changes.add(undefined);
    expect(changes.size).toBe(2);
    expect(readFileSync(path, "utf8")).toBe("c");
    changes.dispose();
    expect(readFileSync(path, "utf8")).toBe("a");
    expect(changes.size).toBe(0);
  });

  test("one change that cannot be undone does not stop the others; the error names it", () => {
    const dir = join(tmp, "sub");
    mkdirSync(dir);
    const gone = join(dir, "gone");
    const kept = join(tmp, "kept");
    writeFileSync(kept, "1");
    writeFileSync(gone, "x");
    const changes = new Changes();
    changes.add(SettingChange.set(kept, "2", { journal: false }));
    changes.add(SettingChange.set(gone, "y", { journal: false }));
    // Its folder removed: writing the original back fails.
    rmSync(dir, { recursive: true });
    expect(() => changes.dispose()).toThrow(`could not restore ${gone}: `);
    expect(readFileSync(kept, "utf8")).toBe("1");
  });
});

describe("huge-page policy", () => {
  test("settings change only with --setup and as root", () => {
    expect(mayChangeSettings(false)).toBe(false);
    expect(mayChangeSettings(true)).toBe(root);
    expect(mayChangeSettings()).toBe(root);
  });

  test.skipIf(hugepageState().size === 0)("a shortage names the pages asked, their size when not the default, and what is free", () => {
    expect(hugepageShortage(0)).toBeUndefined();
    expect(hugepageShortage(10_000_000)).toMatch(/^not enough HugeTLB pages \(need 10000000, free \d+\)$/);
    const size = hugetlbSizes()[0]!;
    expect(hugepageShortage(10_000_000, size)).toMatch(
      new RegExp(`^not enough HugeTLB pages \\(need 10000000 of ${size / 1024} KiB, free \\d+\\)$`),
    );
    expect(hugepageState(size).size).toBe(size);
  });

  test.skipIf(!root || hugepageState().size === 0)("as root: more than half of MemAvailable is refused before anything is written", () => {
    const before = readFileSync("/proc/sys/vm/nr_hugepages", "utf8");
    const avail = (meminfoKb("MemAvailable") ?? 0) * 1024;
    const tooMany = Math.ceil(avail / 2 / hugepageState().size) + 1;
    expect(() => reserveHugepages(tooMany)).toThrow(/^not reserving \d+ huge pages: that is more than half of the \d+ MiB available$/);
    expect(() => reserveHugepages(tooMany)).toThrow(HugepageLimit);
    // Nothing of ours is pending (another run may change the count meanwhile; ours would show as a raise of tooMany).
    const after = Number(readFileSync("/proc/sys/vm/nr_hugepages", "utf8"));
    expect(after).toBeLessThan(Number(before) + tooMany);
  });

  test("nothing asked, nothing changed", () => {
    expect(reserveHugepages(0)).toBeUndefined();
  });
});
