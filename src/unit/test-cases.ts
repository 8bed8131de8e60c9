// Cases for testing the runner itself, present only with
// UFFD_SUITE_TEST_CASES=1 (never listed or run otherwise): one that crashes,
// one that hangs in an unserved fault, one that fails a check, one that passes, one that
// always lacks huge pages; for the scheduler and the verdict checks, one that
// sleeps, one that skips, and two that must run alone.
import { u64At } from "../sys/mem.ts";
import type { UnitCase } from "./case.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Test only: a case that must run with nothing beside it, and takes a while. */
function aloneCase(name: string): UnitCase {
  return {
    name,
    description: "test only: must run alone (nothing else of the run beside it); sleeps 150 ms, passes",
    memory: "none",
    features: [],
    alone: "test only: proves the scheduler runs it alone",
    origin: "suite",
    run: () => sleep(150),
  };
}

export const testOnlyCases: readonly UnitCase[] = [
  {
    name: "selftest-crash",
    description: "test only: dies of SIGSEGV (reads address 8)",
    memory: "none",
    features: [],
    origin: "suite",
    run: () => {
      u64At(8);
    },
  },
  {
    name: "selftest-hang",
    description: "test only: a Worker waits forever in a missing fault nobody serves",
    memory: ["anon"],
    features: [],
    origin: "suite",
    run: async (t) => {
      const ctx = t.context({ size: 2 * 1024 * 1024, initSource: false });
      ctx.register({ missing: true });
      await ctx.touch({ start: ctx.dst.addr, pages: 1, pageSize: ctx.pageSize, op: "read" }, { timeoutMs: 24 * 3600_000 });
    },
  },
  {
    name: "selftest-fail",
    description: "test only: fails a check",
    memory: "none",
    features: [],
    origin: "suite",
    run: (t) => {
      t.note("this case fails on purpose");
      t.equal("planted value", 1, 2);
    },
  },
  {
    name: "selftest-pass",
    description: "test only: passes",
    memory: "none",
    features: [],
    origin: "suite",
    run: () => {},
  },
  {
    name: "selftest-hugetlb-shortage",
    description: "test only: needs a million huge pages, so it always skips with the shortage reason",
    memory: ["hugetlb"],
    features: [],
    hugepages: 1_000_000,
    origin: "suite",
    run: (t) => t.check(false, "selftest-hugetlb-shortage ran", { expected: "a skip for want of huge pages", seen: "it ran" }),
  },
  {
    name: "testonly-sleep",
    description: "test only: sleeps 300 ms, passes",
    memory: "none",
    features: [],
    origin: "suite",
    run: () => sleep(300),
  },
  {
    name: "testonly-skip",
    description: "test only: skips",
    memory: "none",
    features: [],
    origin: "suite",
    run: (t) => t.skip("test only: skips on purpose"),
  },
  aloneCase("testonly-alone-a"),
  aloneCase("testonly-alone-b"),
];
