// What a unit case is: one function plus one row (name, memory types, required
// features). The runner does the fan-out, feature gating, huge-page set-up,
// isolation and teardown.
import type { ContextOptions, UffdTestContext } from "../harness/context.ts";
import type { MemoryName, MemoryType } from "../harness/memory.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import type { FeatureName } from "../uffd/constants.ts";

export interface UnitCase {
  /** Case name as the C suite prints it ("zeropage"); results read `<name> on <memory>`. No '#'. */
  readonly name: string;
  /** One line for `uffd-suite unit -l`. */
  readonly description: string;
  /** Memory types it runs on, or "none" for cases that need no memory (the API checks). */
  readonly memory: readonly MemoryName[] | "none";
  /** Kernel features the case needs; missing ones make it skip with `feature missing: X`. */
  readonly features: readonly FeatureName[];
  /** Huge pages a hugetlb run needs free (the runner reserves them when it may). */
  readonly hugepages?: number;
  /**
   * Takes transparent huge pages from the page allocator (THP areas,
   * MADV_COLLAPSE): run side by side with another such case, or while
   * nr_hugepages changes, it could get small pages and a false verdict.
   */
  readonly thp?: true;
  /** Why it must run with nothing else of the run beside it (machine-wide state); absent: it may share. */
  readonly alone?: string;
  /** "kernel": the C suite has it; "suite": ours alone. */
  readonly origin: "kernel" | "suite";
  /** Kernel bugs this case is known to catch: a failure on these memory types names the upstream fix. */
  readonly knownBugs?: readonly KnownKernelBug[];
  readonly run: (t: CaseRun) => void | Promise<void>;
}

/** A kernel bug a case catches, like LTP's `linux-git` tags: the upstream commit that fixed it. */
export interface KnownKernelBug {
  readonly memory: readonly MemoryName[];
  /** Text of the failing check's diagnostic: a failure of another check is not this bug. */
  readonly check: string;
  /** Abbreviated commit id in torvalds/linux. */
  readonly commit: string;
  /** Its subject line. */
  readonly subject: string;
  /** The first release holding it, e.g. "v6.4". */
  readonly release: string;
  /** Where the failure was seen. */
  readonly seenOn: string;
}

/** The diagnostic a failure of a known bug adds. */
export function knownBugNote(bug: KnownKernelBug): string {
  return `known kernel bug: fixed upstream by ${bug.commit} ("${bug.subject}", ${bug.release}); seen on ${bug.seenOn}`;
}

/** Test-only planted faults, for proving that each check can fail (never set in normal runs). */
export interface PlantedFaults {
  /** Names of checks to corrupt on purpose, e.g. "counter", "content", "fault-count", "pagemap-wp", "eexist". */
  readonly plant: ReadonlySet<string>;
}

/** What a case function gets. */
export interface CaseRun {
  /** The memory type, or undefined for memory-less cases. */
  readonly mem: MemoryType | undefined;
  /** The kernel's features (probed on a throwaway fd). */
  readonly kernel: FeatureSet;
  readonly planted: PlantedFaults;
  /** A diagnostic line; printed as `# ...` before the case's result. */
  note(line: string): void;
  /** End the case as skipped; the reason names the missing feature or resource. */
  skip(reason: string): never;
  /** Fail unless `ok`, saying what was expected and what was seen. */
  check(ok: boolean, what: string, detail: { expected: unknown; seen: unknown }): void;
  /** Fail unless `seen === expected`. */
  equal<T>(what: string, seen: T, expected: T): void;
  /** A test context on this case's memory type, disposed after the case. */
  context(opts?: ContextOptions): UffdTestContext;
  /** Run `fn` after the case, whatever happened (last registered runs first). */
  defer(fn: () => void | Promise<void>): void;
}

export class CaseSkip extends Error {
  override readonly name = "CaseSkip";
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

export class CheckFailure extends Error {
  override readonly name = "CheckFailure";
  readonly diagnostics: readonly string[];
  constructor(message: string, diagnostics: readonly string[] = []) {
    super(message);
    this.diagnostics = diagnostics;
  }
}

export const ALL_MEMORY: readonly MemoryName[] = ["anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private"];
