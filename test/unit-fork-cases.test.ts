// wp-fork*, sigbus*, events*, poison on every memory type, through the
// CaseRun interface on the real kernel; then planted faults, to show that
// their checks fail when the kernel's answer is wrong.
import { describe, expect, test } from "bun:test";
import { hugepagesNeeded } from "../src/harness/context.ts";
import { MEMORY, type MemoryName } from "../src/harness/memory.ts";
import { gupTestPresent } from "../src/sys/gup.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";
import type { UnitCase } from "../src/unit/case.ts";
import { eventsCases } from "../src/unit/cases/events.ts";
import { poisonCases } from "../src/unit/cases/poison.ts";
import { sigbusCases } from "../src/unit/cases/sigbus.ts";
import { wpForkCases } from "../src/unit/cases/wp-fork.ts";
import { caseRunFile, describeCasesOnEveryMemory, runOne } from "./support/case-run.ts";

const kernel = probeFeatures();
const CASES: readonly UnitCase[] = [...wpForkCases, ...sigbusCases, ...eventsCases, ...poisonCases];
const isPin = (c: UnitCase) => c.name.startsWith("wp-fork-pin");
const timed = caseRunFile(hugepagesNeeded(MEMORY.hugetlb));

function find(name: string): UnitCase {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c;
}

// The GUP-pin cases need CONFIG_GUP_TEST; without it they must say so.
describeCasesOnEveryMemory(CASES, {
  kernel,
  timed,
  mustSkip: (c) => (isPin(c) && !gupTestPresent() ? "CONFIG_GUP_TEST missing" : undefined),
});

describe("planted faults make the checks fail", () => {
  const planted: Array<[string, MemoryName, string, RegExp]> = [
    ["wp-fork", "anon", "pagemap-wp", /uffd-wp bit after UFFDIO_WRITEPROTECT: expected set/],
    ["wp-fork-with-event", "shmem", "pagemap-wp", /uffd-wp bit after UFFDIO_WRITEPROTECT: expected set/],
    ["sigbus", "anon", "counter", /counter of page \d+ after SIGBUS/],
    ["sigbus-wp", "shmem", "release", /accesses that raised SIGBUS in the forked child: expected \d+, seen 0/],
    ["events", "anon", "fault-count", /missing faults \(one per page\): expected 8192, seen 8191/],
    ["events-wp", "shmem-private", "counter", /the faulting child: expected exit 0, seen content mismatch at stage "second half"/],
    ["poison", "anon", "content", /odd pages read zero: expected 0, seen 1 pages; page 1 byte 7 is 1/],
    ["poison", "shmem", "fault-count", /pages whose read raised SIGBUS: expected 4096, seen 4095/],
  ];
  for (const [caseName, mem, plant, why] of planted) {
    test(`${caseName} on ${mem} with '${plant}' planted: fails`, async () => {
      const r = await runOne(find(caseName), mem, { kernel, plant: [plant] });
      expect(r.status).toBe("fail");
      expect(r.diagnostics.join("\n")).toMatch(why);
    });
  }
});
