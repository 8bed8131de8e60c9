// After a whole `uffd-suite run` (the compiled binary: unit catalogue, stress
// on every memory type, wp-mremap), nothing it started is left running, and
// nr_hugepages (every size), the THP knobs and vm.unprivileged_userfaultfd
// hold the values they had before, though the run changes some of them.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { childEnv, compiledBinary } from "./support/binary.ts";
import { Live } from "./support/live.ts";
import { changes, killMarked, marked, newMarker, snapshot, type Snapshot, untilEmpty } from "./support/system.ts";

const tmp = mkdtempSync(join(tmpdir(), "uffd-leaks-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("uffd-suite run: no process left, every setting as before (and its JUnit report agrees with its KTAP)", async () => {
  const bin = compiledBinary();
  const marker = newMarker();
  const report = join(tmp, "run.xml");
  const before = snapshot();
  const live = new Live([bin, "run", "--format", "junit", "--output", report], {
    env: childEnv({ [marker.name]: marker.value }),
    cwd: tmp,
  });
  // Watch the settings while it runs: the run must change something (else restoring is not tested).
  const seen = new Set<string>();
  const watch = setInterval(() => {
    for (const c of changes(before, snapshot() as Snapshot)) seen.add(c.split(":")[0]!);
  }, 100);
  try {
    const r = await live.finish(240_000);
    clearInterval(watch);
    expect(r.hung).toBe(false);
    // Nothing it started still runs (case processes, their forks), not even for a moment after.
    expect(marked(marker)).toEqual([]);
    expect(await untilEmpty(() => marked(marker), 1000)).toEqual([]);
    expect(changes(before, snapshot())).toEqual([]);
    expect(seen.size).toBeGreaterThan(0);

    // A complete run: every planned result written, and the report says the same.
    expect([0, 1]).toContain(r.code ?? -1);
    const plan = Number(/^1\.\.(\d+)$/m.exec(r.out)?.[1]);
    const results = r.out.split("\n").filter((l) => /^(not )?ok \d+ /.test(l));
    expect(results).toHaveLength(plan);
    const doc = readFileSync(report, "utf8");
    expect(XMLValidator.validate(doc)).toBe(true);
    const suite = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(doc).testsuites.testsuite;
    expect(Number(suite.tests)).toBe(plan);
    expect(Number(suite.failures)).toBe(results.filter((l) => l.startsWith("not ok")).length);
    expect(Number(suite.skipped)).toBe(results.filter((l) => l.includes("# SKIP")).length);
    console.log(`# run: exit ${r.code}, ${plan} results; settings changed during the run and put back: ${[...seen].join(", ")}`);
  } finally {
    clearInterval(watch);
    // A failed check above leaves nothing of the run behind: the run (if hung) and whatever it started.
    if (live.proc.exitCode === null && live.proc.signalCode === null) live.kill("SIGKILL");
    killMarked(marker);
  }
}, 300_000);
