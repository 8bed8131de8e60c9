// Messages between the bench and its faulting Workers.

/** Control words in the shared `control` buffer (Int32 indexes). */
export const CONTROL = { ready: 0, go: 1 } as const;

/** What a faulting Worker is told: touch `pages` pages once each, timed. */
export interface FaultJob {
  readonly start: number;
  readonly pages: number;
  readonly pageSize: number;
  /** Write one byte per page (wp faults) instead of reading one. */
  readonly write: boolean;
  /** Int32 words, see CONTROL: each Worker adds 1 to `ready`, then waits until `go` is 1. */
  readonly control: SharedArrayBuffer;
}

export type FaulterMessage =
  | { readonly type: "started" }
  | { readonly type: "ready" }
  /** t0/t1: performance.timeOrigin + performance.now() in ms, a clock all threads share. */
  | { readonly type: "done"; readonly t0: number; readonly t1: number; readonly touched: number }
  | { readonly type: "error"; readonly message: string };
