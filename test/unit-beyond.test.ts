// The cases the C suite lacks (origin "suite") on every memory type, through
// the CaseRun interface on the real kernel; then each planted fault, to show
// that every one of them fails when its check is broken.
import { describe, expect, test } from "bun:test";
import { MEMORY, type MemoryName } from "../src/harness/memory.ts";
import { PAGEMAP_SCAN, PAGE_REGION, PM_SCAN_ARG } from "../src/sys/native/pagemap-scan.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";
import type { UnitCase } from "../src/unit/case.ts";
import { UNIT_CASES } from "../src/unit/catalogue.ts";
import { hugepagesFor } from "../src/unit/gate.ts";
import { closeWakesCases } from "../src/unit/cases/close-wakes.ts";
import { copyDontwakeCases } from "../src/unit/cases/copy-dontwake.ts";
import { eventsUnmapCases } from "../src/unit/cases/events-unmap.ts";
import { exactAddressCases } from "../src/unit/cases/exact-address.ts";
import { registerErrorsCases } from "../src/unit/cases/register-errors.ts";
import { threadIdCases } from "../src/unit/cases/thread-id.ts";
import { userModeOnlyCases } from "../src/unit/cases/user-mode-only.ts";
import { wpAsyncCases } from "../src/unit/cases/wp-async.ts";
import { caseRunFile, describeCasesOnEveryMemory, describeResult, loadTimeSkip, runOne } from "./support/case-run.ts";

const kernel = probeFeatures();
const CASES: readonly UnitCase[] = [
  ...eventsUnmapCases,
  ...threadIdCases,
  ...exactAddressCases,
  ...wpAsyncCases,
  ...userModeOnlyCases,
  ...copyDontwakeCases,
  ...registerErrorsCases,
  ...closeWakesCases,
];
// As many huge pages as its hugetlb runs need (a case's own count, else the memory type's).
const timed = caseRunFile(
  Math.max(0, ...CASES.flatMap((c) => (c.memory === "none" ? [] : c.memory.map((m) => hugepagesFor(c, MEMORY[m]))))),
);

test("the catalogue lists each of them once, at its end, as ours, with a one-line description", () => {
  const names = CASES.map((c) => c.name);
  expect(UNIT_CASES.slice(-CASES.length).map((c) => c.name)).toEqual(names);
  for (const c of CASES) {
    expect(UNIT_CASES.filter((u) => u.name === c.name).length).toBe(1);
    expect(c.origin).toBe("suite");
    expect(c.description).not.toMatch(/[\n#]/);
    expect(c.description.length).toBeLessThan(130);
  }
});

test("PAGEMAP_SCAN: struct sizes and the _IOWR('f', 16, struct pm_scan_arg) number", () => {
  expect(PM_SCAN_ARG.size).toBe(96);
  expect(PM_SCAN_ARG.off.return_mask).toBe(88);
  expect(PAGE_REGION.size).toBe(24);
  expect(PAGEMAP_SCAN).toBe(0xc0606610);
});

describeCasesOnEveryMemory(CASES, { kernel, timed });

/** What each planted fault must make its case report. */
const PLANTED_FAILURE: Readonly<Record<string, RegExp>> = {
  "events-unmap": /messages for the munmap of pages 2-3: expected one unmap 0x[0-9a-f]+-0x[0-9a-f]+, seen unmap /,
  "thread-id": /thread id in the fault message for page 1: expected pagefault at 0x[0-9a-f]+ tid \d+, seen pagefault missing at /,
  "exact-address": /fault address with EXACT_ADDRESS \(page 2 \+ 123\): expected 0x[0-9a-f]+, seen pagefault missing at /,
  "wp-async": /pages written \(PAGEMAP_SCAN, PAGE_IS_WRITTEN\): expected \[1, 4, 6, 7\], seen \[1, 4, 6\]/,
  "user-mode-only": /write\(pipe, missing page\) with UFFD_USER_MODE_ONLY: expected 64 bytes, seen EFAULT/,
  "copy-dontwake": /step the toucher saw when its access completed: expected 2 \(wokeOther\), seen 3 \(woke\)/,
  "register-errors": /REGISTER, start not page-aligned: expected EBUSY, seen EINVAL/,
  "close-wakes": /page the woken toucher read: expected .*, seen 1 words differ/,
};

describe("planted faults make each case fail", () => {
  for (const c of CASES) {
    for (const mem of c.memory as readonly MemoryName[]) {
      const name = `${c.name} on ${mem} with '${c.name}' planted`;
      // A planted run that cannot run here is a skip in the report, never a pass.
      const skip = loadTimeSkip(c, mem, kernel);
      test.skipIf(skip !== undefined)(skip === undefined ? name : `${name} (${skip})`, async () => {
        const r = await runOne(c, mem, { kernel, plant: [c.name] });
        if (r.status !== "fail") throw new Error(`expected a failure\n${describeResult(name, r)}`);
        expect(r.diagnostics.join("\n")).toMatch(PLANTED_FAILURE[c.name]!);
      });
    }
  }
});
