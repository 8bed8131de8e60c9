// Ctrl-C and SIGTERM in the middle of a run, for real: the command is started
// as a child, signalled once it is inside its cases, and must then print
// `Bail out! interrupted` after the results so far, exit 130 (SIGINT) or 143
// (SIGTERM), put nr_hugepages and the THP knobs back, and leave no process
// behind (case processes, their forks; Workers go with the process).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SettingChange } from "../src/machine/restore.ts";
import { childEnv, compiledBinary, fromSource } from "./support/binary.ts";
import { Live } from "./support/live.ts";
import { changes, killMarked, marked, newMarker, snapshot, type Snapshot, untilEmpty } from "./support/system.ts";

const NR = "/proc/sys/vm/nr_hugepages";

/** Every line of an interrupted run: TAP, then `Bail out! interrupted` last; no case reported failed by the stop. */
function expectBailedOut(out: string): void {
  const lines = out.trimEnd().split("\n");
  expect(lines.at(-1)).toBe("Bail out! interrupted");
  for (const l of lines.slice(0, -1)) expect(l).toMatch(/^(TAP version 13|1\.\.\d+|ok \d+ .+|# .*)$/);
  expect(lines.filter((l) => l.startsWith("Bail out!"))).toHaveLength(1);
}

/** The run ended by `code`, bailed out, put every setting back and left no process behind. */
function expectStoppedCleanly(r: Awaited<ReturnType<typeof interrupt>>, code: number): void {
  expect(r.hung).toBe(false);
  expect(r.code).toBe(code);
  expectBailedOut(r.out);
  expect(r.restored).toEqual([]);
  expect(r.left).toEqual([]);
}

interface Scenario {
  readonly cmd: string[];
  readonly env?: Record<string, string>;
  /** Wait for this on stdout (or this to hold) before signalling: the run is then inside its cases. */
  readonly ready: RegExp | (() => boolean);
  /** Then wait this long more (ms). */
  readonly settle?: number;
  /** Settings the run must have changed by then (so restoring them is really tested). */
  readonly changed?: (before: Snapshot, now: Snapshot) => void;
}

async function interrupt(s: Scenario, signals: NodeJS.Signals[]) {
  const marker = newMarker();
  const before = snapshot();
  const live = new Live(s.cmd, { env: childEnv({ ...s.env, [marker.name]: marker.value }) });
  try {
    if (s.ready instanceof RegExp) await live.waitFor(s.ready);
    else {
      const end = performance.now() + 20_000;
      while (!s.ready()) {
        if (live.proc.exitCode !== null || live.proc.signalCode !== null) {
          throw new Error(`exited (${live.proc.exitCode ?? live.proc.signalCode}) before it was ready:\n${live.out}\n${live.err}`);
        }
        if (performance.now() > end) throw new Error(`not ready within 20000 ms:\n${live.out}\n${live.err}`);
        await Bun.sleep(20);
      }
    }
    if (s.settle) await Bun.sleep(s.settle);
    s.changed?.(before, snapshot());
    for (const sig of signals) live.kill(sig);
    const r = await live.finish();
    const left = await untilEmpty(() => marked(marker));
    return { ...r, left, restored: changes(before, snapshot()) };
  } finally {
    // On a failure above, nothing of the run may outlive the test.
    if (live.proc.exitCode === null && live.proc.signalCode === null) live.kill("SIGKILL");
    killMarked(marker);
  }
}

describe("signals", () => {
  // nr_hugepages lowered for these tests, so the runs must raise it (and put it back).
  let lowered: SettingChange | undefined;
  beforeAll(() => {
    lowered = SettingChange.set(NR, "0", { journal: false });
  });
  afterAll(() => lowered?.dispose());

  const unitScenario = (cmd: string[]): Scenario => ({
    cmd: [...cmd, "unit"],
    ready: /^ok 4 /m,
    changed: (before, now) => expect(Number(now[NR])).toBeGreaterThan(Number(before[NR])),
  });

  test("unit, SIGINT (from source): Bail out!, 130, nr_hugepages back, no case process left", async () => {
    const r = await interrupt(unitScenario(fromSource()), ["SIGINT"]);
    expectStoppedCleanly(r, 130);
    expect(r.err).toContain("interrupted by SIGINT");
  }, 30_000);

  test("unit, SIGTERM (compiled binary): Bail out!, 143, nr_hugepages back, no case process left", async () => {
    const r = await interrupt(unitScenario([compiledBinary()]), ["SIGTERM"]);
    expectStoppedCleanly(r, 143);
  }, 60_000);

  test("unit, two SIGINTs at once: still 130, restored, nothing left", async () => {
    const r = await interrupt(unitScenario(fromSource()), ["SIGINT", "SIGINT"]);
    expect(r.hung).toBe(false);
    expect(r.code).toBe(130);
    expect(r.restored).toEqual([]);
    expect(r.left).toEqual([]);
  }, 30_000);

  test("unit --no-isolate, a Worker stuck in an unserved fault: SIGINT still ends it", async () => {
    const r = await interrupt(
      {
        cmd: [...fromSource(), "unit", "-f", "selftest-hang", "--no-isolate", "--no-setup"],
        env: { UFFD_SUITE_TEST_CASES: "1" },
        ready: /^1\.\.1$/m,
        settle: 1500,
      },
      ["SIGINT"],
    );
    // 1.5 s after the plan line the case's Worker waits in its fault.
    expect(r.hung).toBe(false);
    expect(r.code).toBe(130);
    expectBailedOut(r.out);
    expect(r.left).toEqual([]);
  }, 30_000);

  test("wp-mremap, SIGINT among the THP cases: Bail out!, 130, THP knobs and 1 GiB pages back", async () => {
    const r = await interrupt(
      {
        cmd: [...fromSource(), "wp-mremap"],
        env: { UFFD_SUITE_TEST_PAUSE_MS: "300" },
        ready: /^# \[RUN\] test_one_folio\(size=16384, /m,
        changed: (before, now) => expect(changes(before, now).length).toBeGreaterThan(0),
      },
      ["SIGINT"],
    );
    expectStoppedCleanly(r, 130);
    expect(r.out).not.toContain("# Totals");
  }, 30_000);

  test("stress hugetlb, SIGTERM mid-bounce: Bail out!, 143, nr_hugepages back, Workers gone with the process", async () => {
    const r = await interrupt(
      {
        cmd: [...fromSource(), "stress", "hugetlb", "64", "64"],
        ready: /^# bounce 6[0-2] /m,
        changed: (before, now) => expect(Number(now[NR])).toBeGreaterThan(Number(before[NR])),
      },
      ["SIGTERM"],
    );
    expectStoppedCleanly(r, 143);
  }, 60_000);

  test("run, SIGINT during the unit part: Bail out!, 130, restored, nothing left", async () => {
    const r = await interrupt({ ...unitScenario(fromSource()), cmd: [...fromSource(), "run"] }, ["SIGINT"]);
    expectStoppedCleanly(r, 130);
  }, 30_000);

  test("--format json on stdout: the document so far, marked interrupted", async () => {
    const start = Date.now();
    const r = await interrupt(
      {
        cmd: [...fromSource(), "unit", "--format", "json"],
        // No KTAP on stdout: wait for the huge page reservation, then a second more.
        ready: () => Number(snapshot()[NR]) > 0 && Date.now() - start > 1500,
      },
      ["SIGINT"],
    );
    expect(r.code).toBe(130);
    const doc = JSON.parse(r.out);
    expect(doc.summary.interrupted).toBe("SIGINT");
    expect(doc.summary.total).toBe(doc.cases.length);
    expect(doc.cases.length).toBeLessThan(doc.summary.planned);
    expect(r.restored).toEqual([]);
    expect(r.left).toEqual([]);
  }, 30_000);
});
