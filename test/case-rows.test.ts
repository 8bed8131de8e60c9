// The rows of the events and sigbus cases: names and results as the C suite's,
// the features each needs (the gate skips on these; -wp adds write-protect),
// the memory types, and the line `uffd-suite unit -l` prints.
import { expect, test } from "bun:test";
import type { UnitCase } from "../src/unit/case.ts";
import { eventsCases } from "../src/unit/cases/events.ts";
import { sigbusCases } from "../src/unit/cases/sigbus.ts";

const ALL = ["anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private"];
const WP = ["PAGEFAULT_FLAG_WP", "WP_HUGETLBFS_SHMEM"];
const row = (c: UnitCase): Record<string, unknown> => ({
  name: c.name,
  description: c.description,
  memory: c.memory,
  features: c.features,
  origin: c.origin,
});

test("events and events-wp", () => {
  const events = ["EVENT_FORK", "EVENT_REMAP", "EVENT_REMOVE"];
  const says = "fork, remap and remove events followed by the handler while a child faults";
  expect(eventsCases.map(row)).toEqual([
    { name: "events", description: says, memory: ALL, features: events, origin: "kernel" },
    { name: "events-wp", description: `${says} (write-protected copies)`, memory: ALL, features: [...events, ...WP], origin: "kernel" },
  ]);
});

test("sigbus and sigbus-wp", () => {
  const says = (what: string) =>
    `UFFD_FEATURE_SIGBUS: SIGBUS on ${what} pages, resolved in the signal path; a forked child gets SIGBUS and no userfault`;
  expect(sigbusCases.map(row)).toEqual([
    { name: "sigbus", description: says("missing"), memory: ALL, features: ["SIGBUS", "EVENT_FORK"], origin: "kernel" },
    {
      name: "sigbus-wp",
      description: says("missing and write-protected"),
      memory: ALL,
      features: ["SIGBUS", "EVENT_FORK", ...WP],
      origin: "kernel",
    },
  ]);
});
