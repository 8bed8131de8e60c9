// Machine settings across processes (src/machine/settings-journal.ts): a run
// killed with SIGKILL leaves a record the next run puts back, and a second run
// cannot change settings while the first holds them. Settings here are temp
// files (any path works) except for one real nr_hugepages round trip.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hugepageState } from "../src/machine/hugepages.ts";
import { SettingChange } from "../src/machine/restore.ts";
import { claimKnobs, releaseKnobs, SettingsBusyError } from "../src/machine/settings-journal.ts";
import { childEnv, REPO } from "./support/binary.ts";
import { Live } from "./support/live.ts";

const CHILD = join(REPO, "test/support/settings-child.ts");
const NR = "/proc/sys/vm/nr_hugepages";
const root = mkdtempSync(join(tmpdir(), "uffd-suite-journal-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let stateDir: string;
const savedEnv = process.env.UFFD_SUITE_STATE_DIR;
beforeEach(() => {
  dir = mkdtempSync(join(root, "case-"));
  stateDir = join(dir, "state");
  process.env.UFFD_SUITE_STATE_DIR = stateDir;
});
afterEach(() => {
  releaseKnobs();
  if (savedEnv === undefined) delete process.env.UFFD_SUITE_STATE_DIR;
  else process.env.UFFD_SUITE_STATE_DIR = savedEnv;
});

function child(...args: string[]): Live {
  return new Live([process.execPath, CHILD, ...args], { env: childEnv({ UFFD_SUITE_STATE_DIR: stateDir }) });
}

/** A child that uses the real state dir (/run/uffd-suite), so it takes the real lock against other runs. */
function realChild(...args: string[]): Live {
  const env = childEnv();
  delete env.UFFD_SUITE_STATE_DIR;
  return new Live([process.execPath, CHILD, ...args], { env });
}

function knob(name: string, value: string): string {
  const p = join(dir, name);
  writeFileSync(p, value);
  return p;
}

const read = (p: string) => readFileSync(p, "utf8").trim();
const journal = () => join(stateDir, "runs.json");

describe("settings journal", () => {
  test("a run killed with SIGKILL: its change is on record, and the next run puts it back and says so", async () => {
    const k = knob("knob", "always [madvise] never");
    const killed = child("kill", k, "never");
    const end = await killed.finish();
    expect(end.signal).toBe("SIGKILL");
    expect(read(k)).toBe("never");
    const [rec] = JSON.parse(readFileSync(journal(), "utf8")).runs;
    expect(rec.pid).toBe(killed.pid);
    expect(rec.changes).toEqual([{ path: k, original: "madvise", written: "never" }]);

    const next = await child("recover").finish();
    expect(next.code).toBe(0);
    expect(read(k)).toBe("madvise");
    expect(existsSync(journal())).toBe(false);
    expect(next.err).toContain(`put ${k} back to madvise`);
    expect(next.err).toContain(`pid ${killed.pid}`);
  });

  test("a value changed by someone else since is left alone, with a warning", async () => {
    const k = knob("knob", "0");
    await child("kill", k, "64").finish();
    writeFileSync(k, "7");
    const next = await child("recover").finish();
    expect(next.code).toBe(0);
    expect(read(k)).toBe("7");
    expect(next.err).toContain("left as it is");
    expect(existsSync(journal())).toBe(false);
  });

  test("while one run holds settings, another cannot change them (named in the error); afterwards it can", async () => {
    const a = knob("a", "1");
    const b = knob("b", "1");
    const holder = child("hold", a, "2");
    try {
      await holder.waitFor(/^held$/m, 15_000);
      expect(read(a)).toBe("2");
      let busy: unknown;
      try {
        claimKnobs(200);
      } catch (e) {
        busy = e;
      }
      expect(busy).toBeInstanceOf(SettingsBusyError);
      expect((busy as Error).message).toContain(`pid ${holder.pid}`);
      expect(read(b)).toBe("1");
    } finally {
      holder.kill("SIGTERM");
    }
    const end = await holder.finish();
    expect(end.code).toBe(143);
    // The holder put its value back and dropped its record on the way out.
    expect(read(a)).toBe("1");
    expect(existsSync(journal())).toBe(false);
    using change = SettingChange.set(b, "3");
    expect(read(b)).toBe("3");
    expect(JSON.parse(readFileSync(journal(), "utf8")).runs.map((r: { changes: unknown }) => r.changes)).toEqual([
      [{ path: b, original: "1", written: "3" }],
    ]);
    change.dispose();
    expect(read(b)).toBe("1");
    expect(existsSync(journal())).toBe(false);
  });

  test("journal: false (a test preparing the machine for a child run) neither locks nor records", async () => {
    const a = knob("a", "1");
    const b = knob("b", "1");
    using _prep = SettingChange.set(a, "5", { journal: false });
    expect(existsSync(journal())).toBe(false);
    const holder = child("hold", b, "2");
    try {
      await holder.waitFor(/^held$/m, 15_000);
      expect(read(b)).toBe("2");
    } finally {
      holder.kill("SIGTERM");
    }
    await holder.finish();
    expect(read(b)).toBe("1");
  });

  test("what an older version left (settings.json, one run's set values) is put back by the next run", async () => {
    const k = knob("knob", "never");
    mkdirSync(stateDir, { mode: 0o700 });
    const legacy = join(stateDir, "settings.json");
    writeFileSync(
      legacy,
      JSON.stringify({ pid: 4242, command: "uffd-suite wp-mremap", changes: [{ path: k, original: "madvise", written: "never" }] }),
      { mode: 0o600 },
    );
    const next = await child("recover").finish();
    expect(next.code).toBe(0);
    expect(read(k)).toBe("madvise");
    expect(existsSync(legacy)).toBe(false);
    expect(next.err).toContain(`put ${k} back to madvise (an unfinished run, pid 4242: uffd-suite wp-mremap, left it at never)`);
  });

  test("shares: two runs raise a count by their own shares, one is SIGKILLed, the next run takes exactly its share off", async () => {
    const k = knob("count", "5");
    const holder = child("hold-share", k, "3");
    try {
      await holder.waitFor(/^held$/m, 15_000);
      expect(read(k)).toBe("8");
      const killer = child("kill-share", k, "10");
      const killed = await killer.finish();
      expect(killed.signal).toBe("SIGKILL");
      expect(read(k)).toBe("18");
      const next = await child("recover").finish();
      expect(read(k)).toBe("8");
      expect(next.err).toContain(`put ${k} back to 8 (an unfinished run, pid ${killer.pid}`);
      expect(next.err).toContain("its share of 10");
      // The live run's share is still on record.
      expect(JSON.parse(readFileSync(journal(), "utf8")).runs.map((r: { pid: number; changes: unknown }) => [r.pid, r.changes])).toEqual([
        [holder.pid, [{ path: k, share: 3 }]],
      ]);
    } finally {
      holder.kill("SIGTERM");
    }
    await holder.finish();
    expect(read(k)).toBe("5");
    expect(existsSync(journal())).toBe(false);
  });

  // Needs root and a hugetlb page size (otherwise skipped, by that name).
  test.skipIf(process.getuid?.() !== 0 || hugepageState().size === 0)(
    "nr_hugepages (needs root and a hugetlb page size): raised by a run that is then SIGKILLed, put back by the next run",
    async () => {
      const before = read(NR);
      try {
        const killed = await realChild("kill-hugepages").finish();
        expect({ signal: killed.signal, err: killed.err }).toEqual({ signal: "SIGKILL", err: "" });
        expect(Number(read(NR))).toBeGreaterThan(Number(before));
        const next = await realChild("recover").finish();
        expect(next.code).toBe(0);
        expect(read(NR)).toBe(before);
        expect(next.err).toContain(`put ${NR} back to ${before}`);
      } finally {
        if (read(NR) !== before) writeFileSync(NR, before);
      }
    },
  );
});
