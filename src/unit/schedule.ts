// Which planned cases may run side by side. Each entry's needs come from its
// row in the case table: huge pages it holds, whether it takes transparent
// huge pages, whether it must run alone, and the memory of its process. Two
// cases run together only when neither can change the other's verdict.
//
// Huge pages, all in one place: hugetlb cases run one at a time (beside
// cases on other memory), each with the machine's free huge pages to itself as
// in a serial run: a case may fault in more than its row declares (a forked
// child's copies of private pages), which only a serial run never notices.
// The run reserves once, up front, the largest need (hugepagesWanted); before
// each hugetlb case the runner tops up and checks for a shortage as a serial
// run does.
import { defaultAreaSize } from "../harness/context.ts";
import { meminfoKb } from "../harness/memory.ts";
import type { PlannedCase } from "./plan.ts";

export interface CaseNeeds {
  /** Huge pages it holds while it runs (hugetlb memory types). */
  readonly hugepages: number;
  /** Takes transparent huge pages: never beside another such case, nor a change of nr_hugepages. */
  readonly thp: boolean;
  /** Runs with nothing else beside it. */
  readonly alone: boolean;
  /** MiB its process and areas take. */
  readonly memoryMiB: number;
}

/** A case process (Bun, its Workers) and the spare warming up beside it, measured at about 80 MiB RSS each. */
const PROCESS_MIB = 2 * 100;

export function needsOf(entry: PlannedCase, hugepages: number): CaseNeeds {
  const areas = entry.mem && !entry.mem.hugetlb ? (2 * defaultAreaSize(entry.mem)) / 2 ** 20 : 0;
  return { hugepages, thp: entry.unit.thp === true, alone: entry.unit.alone !== undefined, memoryMiB: PROCESS_MIB + areas };
}

/** Huge pages the run reserves up front: the largest need (hugetlb cases run one at a time). */
export function hugepagesWanted(needs: readonly CaseNeeds[]): number {
  return Math.max(0, ...needs.map((n) => n.hugepages));
}

/** Memory the run may fill with case processes: half of what the kernel says is available now. */
export function memoryBudgetMiB(): number {
  const kb = meminfoKb("MemAvailable");
  return kb === undefined ? Number.POSITIVE_INFINITY : kb / 2 / 1024;
}

export interface Budget {
  readonly jobs: number;
  readonly memoryMiB: number;
}

/** What stops an entry from starting now. */
export type Blocker = "jobs" | "alone" | "thp" | "hugepages" | "memory";

/** The cases running now, and whether one more may join them. */
export class Admission {
  readonly #budget: Budget;
  readonly #running = new Map<number, CaseNeeds>();

  constructor(budget: Budget) {
    this.#budget = budget;
  }

  get running(): number {
    return this.#running.size;
  }

  /** Huge pages held by the running case on hugetlb (0: none runs). */
  get hugepagesHeld(): number {
    let n = 0;
    for (const r of this.#running.values()) n += r.hugepages;
    return n;
  }

  get thpRunning(): boolean {
    return [...this.#running.values()].some((r) => r.thp);
  }

  /** Why `needs` cannot start now; undefined: it may. With nothing running, anything may. */
  blocker(needs: CaseNeeds): Blocker | undefined {
    if (this.#running.size === 0) return undefined;
    if (this.#running.size >= this.#budget.jobs) return "jobs";
    if (needs.alone || [...this.#running.values()].some((r) => r.alone)) return "alone";
    if (needs.thp && this.thpRunning) return "thp";
    if (needs.hugepages > 0 && this.hugepagesHeld > 0) return "hugepages";
    let mem = 0;
    for (const r of this.#running.values()) mem += r.memoryMiB;
    if (mem + needs.memoryMiB > this.#budget.memoryMiB) return "memory";
    return undefined;
  }

  start(i: number, needs: CaseNeeds): void {
    if (this.#running.has(i)) throw new Error(`entry ${i + 1} started twice`);
    this.#running.set(i, needs);
  }

  finish(i: number): void {
    this.#running.delete(i);
  }
}
