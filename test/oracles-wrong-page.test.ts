// A handler that resolves faults with the next page's contents (the
// wrong-page plant) fails the events case on every memory type, naming the
// page it found: not only stress notices.
import { expect, test } from "bun:test";
import { hugepagesNeeded } from "../src/harness/context.ts";
import { MEMORY, type MemoryName } from "../src/harness/memory.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";
import { eventsCases } from "../src/unit/cases/events.ts";
import { caseRunFile, describeResult, expectShortageSkipAllowed, loadTimeSkip, runOne, SHORTAGE_SKIP } from "./support/case-run.ts";
import { WRONG_PAGE_IN_EVENTS } from "./support/oracles.ts";

const kernel = probeFeatures();
const timed = caseRunFile(hugepagesNeeded(MEMORY.hugetlb));
const events = eventsCases.find((c) => c.name === "events")!;

for (const mem of events.memory as readonly MemoryName[]) {
  const skip = loadTimeSkip(events, mem, kernel);
  test.skipIf(skip !== undefined)(
    `a handler serving the next page fails events on ${mem}${skip ? ` (${skip})` : ""}`,
    async () => {
      const r = await runOne(events, mem, { kernel, plant: ["wrong-page"] });
      timed(`events on ${mem} (wrong-page)`, r);
      if (r.status === "skip") {
        // Only a resource shortage decided at run time may skip (hugetlb pages taken meanwhile), where this file could not reserve them as root.
        expect(r.reason).toMatch(SHORTAGE_SKIP);
        expect(mem.startsWith("hugetlb")).toBe(true);
        expectShortageSkipAllowed(timed, `events on ${mem}`, r);
        console.log(`# events on ${mem} (wrong-page): skipped at run time: ${r.reason}`);
        return;
      }
      if (r.status !== "fail") throw new Error(`expected a failure\n${describeResult(mem, r)}`);
      expect(r.diagnostics.join("\n")).toMatch(WRONG_PAGE_IN_EVENTS);
    },
    60_000,
  );
}
