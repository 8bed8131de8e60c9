// Child routines of our own (forked.c), run through forkChild/runChild:
// the events tests' faulting process, and a long-term pin in the child.
import forkedSource from "./forked.c" with { type: "text" };
import { PAGE_SIZE, Scratch } from "../mem.ts";
import { childExitMeaning, nativeRoutine, type RunOptions, runChild } from "./child.ts";
import { loadNative } from "./load.ts";
import type { ChildStatus } from "./status.ts";

const routineSig = { args: ["ptr"], returns: "i32" } as const;
const unit = loadNative("forked", forkedSource, {
  forked_events: routineSig,
  forked_pin_pagemap: routineSig,
});

/** Exit codes of our routines (after child.c's CHILD_EXIT codes). */
export const FORKED_EXIT = {
  MREMAP_FAILED: 9,
  RELEASED_NOT_ZERO: 10,
  GUP_OPEN_FAILED: 11,
  PIN_START_FAILED: 12,
  PIN_STOP_FAILED: 13,
  WRONG_PAGE: 14,
} as const;

const EXIT_TEXT: Readonly<Record<number, string>> = {
  9: "mremap failed",
  10: "a released page is not zero",
  11: "cannot open /sys/kernel/debug/gup_test",
  12: "PIN_LONGTERM_TEST_START failed",
  13: "PIN_LONGTERM_TEST_STOP failed",
  14: "a page holds another page's data",
};

/** What a forked routine's exit code means (child.c's codes plus ours). */
export function forkedExitMeaning(code: number): string {
  return EXIT_TEXT[code] ?? childExitMeaning(code);
}

export interface EventsChildArgs {
  readonly dst: number;
  /** Where the child moves dst with MREMAP_FIXED (the C: the source area). */
  readonly remapTo: number;
  readonly pages: number;
  readonly pageSize: number;
  readonly countOffset: number;
  readonly expected: ArrayLike<number>;
  /** madvise advice that releases the moved pages. */
  readonly releaseAdvice: number;
  /** Each page's tag (u32 page number, u32 seed) at `offset`; seed 0 or left out: not checked. */
  readonly tag?: { readonly offset: number; readonly seed: number };
}

const STAGES = ["", "first half", "mremap", "second half", "release", "zero check", "done"] as const;

export interface EventsChildResult {
  readonly status: ChildStatus;
  /** How far the child got. */
  readonly stage?: (typeof STAGES)[number];
  readonly page?: number;
  readonly seen?: bigint;
  /** The expected counter or tag (first/second half) or the offset of the non-zero byte (zero check). */
  readonly expected?: bigint;
  readonly errno?: number;
}

/** Fork the events tests' faulting process and wait for it. */
export async function runEventsChild(a: EventsChildArgs, opts?: RunOptions): Promise<EventsChildResult> {
  const verify = new Scratch(Math.max(8, a.pages * 8));
  try {
    for (let i = 0; i < a.pages; i++) verify.view.setBigUint64(i * 8, BigInt(a.expected[i] ?? 0), true);
    const routine = nativeRoutine("events", unit().symbols.forked_events);
    const run = await runChild(
      routine,
      [a.dst, a.remapTo, a.pages, a.pageSize, a.countOffset, verify.addr, a.releaseAdvice, a.tag?.offset ?? 0, a.tag?.seed ?? 0],
      opts,
    );
    const [stage, page, seen, expected, errno] = run.report;
    if (stage === undefined) return { status: run.status };
    return {
      status: run.status,
      stage: STAGES[Number(stage)] ?? "",
      page: Number(page ?? 0n),
      seen: seen ?? 0n,
      expected: expected ?? 0n,
      errno: Number(errno ?? 0n),
    };
  } finally {
    verify.dispose();
  }
}

export interface PinPagemapResult {
  readonly status: ChildStatus;
  readonly entry?: bigint;
  readonly errno?: number;
}

/** In a child: pin [addr, addr+len) long-term read-only via gup_test, read the pagemap entry of addr, unpin. */
export async function runPinPagemapChild(
  a: { addr: number; len: number; ioctls: { start: number; stop: number } },
  opts?: RunOptions,
): Promise<PinPagemapResult> {
  const routine = nativeRoutine("pin-pagemap", unit().symbols.forked_pin_pagemap);
  const run = await runChild(routine, [a.addr, a.len, a.ioctls.start, a.ioctls.stop, PAGE_SIZE], opts);
  const [entry, errno] = run.report;
  return { status: run.status, ...(entry !== undefined ? { entry } : {}), ...(errno ? { errno: Number(errno) } : {}) };
}
