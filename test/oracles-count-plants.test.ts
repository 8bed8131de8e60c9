// One plant per count check of the events, sigbus, poison, minor and move cases: each run records every
// check (test/support/record-checks.ts) and shows that exactly the checks
// named fail (the first one with its diagnostic) and that all others pass,
// so no count can go wrong behind another check's failure. Then a SIGBUS
// path that copies the next source page fails sigbus and sigbus-wp on every
// memory type, naming the page it found.
import { expect, test } from "bun:test";
import { defaultAreaSize, hugepagesNeeded } from "../src/harness/context.ts";
import { MEMORY, type MemoryName, pageSizeOf } from "../src/harness/memory.ts";
import { probeFeatures } from "../src/uffd/uffd.ts";
import type { UnitCase } from "../src/unit/case.ts";
import { eventsCases } from "../src/unit/cases/events.ts";
import { minorCases } from "../src/unit/cases/minor.ts";
import { moveCases } from "../src/unit/cases/move.ts";
import { poisonCases } from "../src/unit/cases/poison.ts";
import { sigbusCases } from "../src/unit/cases/sigbus.ts";
import { caseRunFile, describeResult, expectShortageSkipAllowed, loadTimeSkip, runOne, SHORTAGE_SKIP } from "./support/case-run.ts";
import { recordChecks } from "./support/record-checks.ts";

const kernel = probeFeatures();
const timed = caseRunFile(hugepagesNeeded(MEMORY.hugetlb));
const CASES: readonly UnitCase[] = [...eventsCases, ...sigbusCases, ...poisonCases, ...minorCases, ...moveCases];
const byName = (name: string) => CASES.find((c) => c.name === name)!;

// The counts below are for anon: 32 MiB of 4 KiB pages; sigbus walks the first half.
const PAGES = defaultAreaSize(MEMORY.anon) / pageSizeOf(MEMORY.anon);
const SPLIT = Math.ceil(PAGES / 2);

interface Row {
  readonly name: string;
  /** Default anon. */
  readonly mem?: MemoryName;
  readonly plant?: string;
  /** The checks that must fail, in order; every other check must pass. */
  readonly fails: readonly string[];
  /** The first failing check's diagnostic. */
  readonly says?: RegExp;
  /** The case's notes, in full. */
  readonly notes?: readonly string[];
}

const ROWS: readonly Row[] = [
  { name: "events", fails: [], notes: [`handler: ${PAGES} missing, 0 wp faults; events: 1 fork, 1 remap, 1 remove`] },
  { name: "events", plant: "fork-count", fails: ["fork events"], says: /^fork events: expected 2, seen 1$/ },
  { name: "events", plant: "remap-count", fails: ["remap events"], says: /^remap events: expected 2, seen 1$/ },
  { name: "events", plant: "remove-count", fails: ["remove events"], says: /^remove events: expected >= 2, seen 1$/ },
  {
    name: "events",
    plant: "fault-count",
    fails: ["missing faults (one per page)"],
    says: new RegExp(`^missing faults \\(one per page\\): expected ${PAGES}, seen ${PAGES - 1}$`),
  },
  // A child that stops early never releases: its failure takes the remove count with it.
  {
    name: "events",
    plant: "counter",
    fails: ["the faulting child", "remove events"],
    says: new RegExp(`^the faulting child: expected exit 0, seen .*page ${PAGES - 1} counter 1, expected 2$`),
  },
  { name: "events-wp", fails: [], notes: [`handler: ${PAGES} missing, ${PAGES} wp faults; events: 1 fork, 1 remap, 1 remove`] },
  {
    name: "events-wp",
    plant: "wp-count",
    fails: ["write-protect faults (one per page)"],
    says: /^write-protect faults \(one per page\): expected \d+, seen 0$/,
  },
  {
    name: "events-wp",
    plant: "fault-count",
    fails: ["missing faults (one per page)"],
    says: new RegExp(`expected ${PAGES}, seen ${PAGES - 1}$`),
  },
  { name: "sigbus", fails: [], notes: [`in-process: ${SPLIT} SIGBUS taken, ${SPLIT} of ${SPLIT} pages copied in by the signal path`] },
  {
    name: "sigbus",
    plant: "counter",
    fails: [`counter of page ${SPLIT - 1} after SIGBUS and UFFDIO_COPY`],
    says: /: expected 0x2, seen 0x1$/,
  },
  // The walk stops at the first wrong page, so fewer pages were copied in.
  {
    name: "sigbus",
    plant: "sigbus-wrong-page",
    fails: ["data of page 0 after SIGBUS and UFFDIO_COPY", "pages copied in by the SIGBUS path"],
    says: /^data of page 0 after SIGBUS and UFFDIO_COPY: expected page 0's, seen page 0 holds page 1's data$/,
  },
  {
    name: "sigbus",
    plant: "copied-count",
    fails: ["pages copied in by the SIGBUS path"],
    says: new RegExp(`^pages copied in by the SIGBUS path: expected ${SPLIT + 1}, seen ${SPLIT}$`),
  },
  {
    name: "sigbus",
    plant: "release",
    fails: ["accesses that raised SIGBUS in the forked child"],
    says: new RegExp(`expected ${SPLIT}, seen 0$`),
  },
  {
    name: "sigbus",
    plant: "fork-count",
    fails: ["fork events read by the handler"],
    says: /^fork events read by the handler: expected 2, seen 1$/,
  },
  {
    name: "sigbus",
    plant: "userfault-count",
    fails: ["userfaults the handler saw"],
    says: /^userfaults the handler saw: expected 1, seen 0$/,
  },
  {
    name: "sigbus-wp",
    fails: [],
    notes: [`in-process: ${2 * SPLIT} SIGBUS taken, ${SPLIT} of ${SPLIT} pages copied in by the signal path`],
  },
  {
    name: "sigbus-wp",
    plant: "sigbus-count",
    fails: ["SIGBUS taken (one missing and one write-protect per page)"],
    says: new RegExp(`expected ${2 * SPLIT + 1}, seen ${2 * SPLIT}$`),
  },
  { name: "poison", fails: [], notes: [`${SPLIT} of ${PAGES} pages raised SIGBUS; handler: ${PAGES} faults`] },
  {
    name: "poison",
    plant: "sigbus-count",
    fails: ["pages whose read raised SIGBUS"],
    says: new RegExp(`^pages whose read raised SIGBUS: expected ${SPLIT + 1}, seen ${SPLIT}$`),
  },
  {
    name: "poison",
    plant: "missing-count",
    fails: ["faults the handler resolved (one per page)"],
    says: new RegExp(`expected ${PAGES + 1}, seen ${PAGES}$`),
  },
  {
    name: "poison",
    plant: "content",
    fails: ["odd pages read zero"],
    says: /^odd pages read zero: expected 0, seen 1 pages; page 1 byte 7 is 1$/,
  },
  // Page 0 copied in before the handler ran: neither poisoned nor a fault.
  { name: "poison", plant: "fault-count", fails: ["pages whose read raised SIGBUS", "faults the handler resolved (one per page)"] },
  { name: "minor", mem: "shmem", fails: [] },
  {
    name: "minor",
    mem: "shmem",
    plant: "fault-count",
    fails: ["minor faults (one per page)"],
    says: new RegExp(`^minor faults \\(one per page\\): expected ${PAGES + 1}, seen ${PAGES}$`),
  },
  { name: "minor", mem: "shmem", plant: "missing-count", fails: ["missing faults"], says: /^missing faults: expected 1, seen 0$/ },
  { name: "move", fails: [] },
  {
    name: "move",
    plant: "fault-count",
    fails: [`missing faults (one per 4 KiB chunk)`],
    says: new RegExp(`expected ${PAGES + 1}, seen ${PAGES}$`),
  },
  { name: "move", plant: "minor-count", fails: ["minor faults"], says: /^minor faults: expected 1, seen 0$/ },
  { name: "move", plant: "wp-count", fails: ["wp faults"], says: /^wp faults: expected 1, seen 0$/ },
];

for (const row of ROWS) {
  const c = byName(row.name);
  const mem = row.mem ?? "anon";
  const skip = loadTimeSkip(c, mem, kernel);
  const title = `${row.name} on ${mem}, ${row.plant ? `'${row.plant}' planted` : "nothing planted"}: ${row.fails.length === 0 ? "every check passes" : `only ${row.fails.join(" and ")} fail${row.fails.length === 1 ? "s" : ""}`}`;
  test.skipIf(skip !== undefined)(
    `${title}${skip ? ` (${skip})` : ""}`,
    async () => {
      const r = await recordChecks(c, mem, { kernel, plant: row.plant ? [row.plant] : [] });
      if (r.thrown !== undefined) throw r.thrown;
      const failed = r.checks.filter((x) => !x.ok);
      expect(failed.map((x) => x.what)).toEqual([...row.fails]);
      if (row.says) expect(failed[0]!.line).toMatch(row.says);
      if (row.notes) expect(r.notes).toEqual([...row.notes]);
      // The case ran to its end: its last count was checked too.
      expect(r.checks.length).toBeGreaterThanOrEqual(4);
    },
    60_000,
  );
}

const sigbusCase = byName("sigbus");
const sigbusSkip = loadTimeSkip(sigbusCase, "anon", kernel);
test.skipIf(sigbusSkip !== undefined)(
  `sigbus on anon: a failing ioctl in the signal path fails the case with its error${sigbusSkip ? ` (${sigbusSkip})` : ""}`,
  async () => {
    const r = await runOne(sigbusCase, "anon", { kernel, plant: ["sigbus-ioctl"] });
    expect(r.status).toBe("fail");
    expect(r.diagnostics.at(-1)).toBe("UFFDIO_COPY failed in the signal path at page 0");
  },
  60_000,
);

for (const name of ["sigbus", "sigbus-wp"]) {
  const c = byName(name);
  for (const mem of c.memory as readonly MemoryName[]) {
    const skip = loadTimeSkip(c, mem, kernel);
    test.skipIf(skip !== undefined)(
      `${name} on ${mem}: a SIGBUS path copying the next page fails, naming it${skip ? ` (${skip})` : ""}`,
      async () => {
        const r = await runOne(c, mem, { kernel, plant: ["sigbus-wrong-page"] });
        timed(`${name} on ${mem} (sigbus-wrong-page)`, r);
        if (r.status === "skip") {
          // Only huge pages taken meanwhile may skip it at run time, on hugetlb, where this file could not reserve them as root.
          expect(r.reason).toMatch(SHORTAGE_SKIP);
          expect(mem.startsWith("hugetlb")).toBe(true);
          expectShortageSkipAllowed(timed, `${name} on ${mem}`, r);
          console.log(`# ${name} on ${mem} (sigbus-wrong-page): skipped at run time: ${r.reason}`);
          return;
        }
        if (r.status !== "fail") throw new Error(`expected a failure\n${describeResult(mem, r)}`);
        expect(r.diagnostics.at(-1)).toBe(
          "data of page 0 after SIGBUS and UFFDIO_COPY: expected page 0's, seen page 0 holds page 1's data",
        );
      },
      60_000,
    );
  }
}
