// What the stress orchestrator tells its locking and copier Workers, and the
// shared control words they watch. Plain data: jobs cross postMessage once per
// bounce; everything that changes during a bounce goes through Atomics.

/** Int32 slots of the control SharedArrayBuffer. */
export const CTRL = {
  /** Set to 1 to end the locking loops (the C's `finished`). */
  stop: 0,
  /** Set to 1 by whoever finds something wrong; the others stop soon after. */
  failed: 1,
  /** 1 when the next successful background copy must be repeated (the C's SIGALRM flag). */
  eexistDue: 2,
  /** Repeat copies done, each of which gave EEXIST as it must. */
  eexistDone: 3,
  /** Corrupt pages the locking loops found (the run fails on any). */
  corrupt: 4,
} as const;
export const CTRL_SLOTS = 8;

/** Bits of the remaining bounce count that pick the mode (the C's BOUNCE_*). */
export const BOUNCE = { random: 1, racing: 2, verify: 4, poll: 8 } as const;

/** "rnd racing ver poll": the mode words of a bounce, as the C prints them. */
export function bounceModeLabel(bounce: number): string {
  const words: string[] = [];
  if (bounce & BOUNCE.random) words.push("rnd");
  if (bounce & BOUNCE.racing) words.push("racing");
  if (bounce & BOUNCE.verify) words.push("ver");
  words.push(bounce & BOUNCE.poll ? "poll" : "read");
  return words.join(" ");
}

/** One locking Worker's bounce: lock pages of `dst`, check and bump their counters, until `stop`. */
export interface LockJob {
  readonly type: "stress-lock";
  readonly dst: number;
  readonly pages: number;
  readonly pageSize: number;
  /** Byte offset of the 64-bit counter inside a page. */
  readonly countOffset: number;
  /** Pick pages at random (else walk from `firstPage`). */
  readonly random: boolean;
  /** Random source: getrandom(2) per pick as the C does, or Math.random. */
  readonly rng?: "getrandom" | "math";
  /** First page of a sequential walk (the C's wrap-around start). */
  readonly firstPage: number;
  /** Expected counter of every page, one float64 per page. */
  readonly verify: SharedArrayBuffer;
  readonly ctrl: SharedArrayBuffer;
  /** Test-only: store into the counter before locking, so the first touch is a write. */
  readonly writeFirst?: boolean;
}

export interface LockResult {
  readonly locks: number;
}

/** One background copier's bounce: COPY its slice, write-protecting it between the halves. */
export interface CopyJob {
  readonly type: "stress-copy";
  readonly uffdFd: number;
  readonly dst: number;
  /** The destination's second view (dst itself where the type has none): where the repeat copy goes. */
  readonly dstAlias: number;
  readonly src: number;
  readonly pageSize: number;
  readonly startPage: number;
  readonly endPage: number;
  /** COPY with MODE_WP and write-protect the slice after the first half. */
  readonly wp: boolean;
  readonly ctrl: SharedArrayBuffer;
}

export interface CopyResult {
  readonly copied: number;
  /** Copies that found the page there already (a handler was first) and woke the waiters. */
  readonly woken: number;
}

export type StressJob = LockJob | CopyJob;
