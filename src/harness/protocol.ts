// Messages between the test side and pooled Workers.

export type FaultStrategy = "copy" | "zeropage" | "move" | "poison";

/** What a handler Worker is told to serve. Plain data: it crosses postMessage. */
export interface ServeJob {
  readonly type: "serve";
  readonly uffdFd: number;
  /** Enabled feature mask, hex (BigInt doesn't cross postMessage everywhere). */
  readonly featuresHex: string;
  /** Read end of this handler's stop pipe (poll mode). */
  readonly stopFd: number;
  /** poll+read, or blocking read (stopped by a fault on its stop page). */
  readonly mode: "poll" | "read";
  readonly strategy: FaultStrategy;
  /** Destination (the registered view for missing/wp faults). */
  readonly dst: number;
  /** The other view of the destination (minor faults are taken there; equals dst where none). */
  readonly dstAlias: number;
  readonly src: number;
  readonly size: number;
  readonly pageSize: number;
  /** Resolve with MODE_WP (COPY/CONTINUE), as the C suite's apply_wp. */
  readonly applyWp: boolean;
  /** A missing fault with the WRITE flag is an error (the first touch of a page is the mutex read). */
  readonly forbidWriteMissing: boolean;
  /** Bytes per MOVE (strategy "move"): a page, or a PMD chunk. */
  readonly moveChunk?: number;
  /** Stop pages (blocking-read mode): a fault on any of them tells the handler that takes it to stop. */
  readonly stopPages?: { readonly start: number; readonly len: number };
  /** Do one deliberate repeat COPY to this view (dst or its alias) after the first COPY; it must give EEXIST. */
  readonly repeatCopyVia?: "dst" | "alias";
  /** On a fork event: follow the child's uffd (events tests) or close it (fork loops). */
  readonly onFork: "follow" | "close";
  readonly counters: SharedArrayBuffer;
  readonly slot: number;
}

export interface TouchJob {
  readonly type: "touch";
  readonly start: number;
  readonly pages: number;
  readonly pageSize: number;
  /** read: load one byte per page; write: store `value` at `offset`; lock: the C locking step on the source layout. */
  readonly op: "read" | "write";
  readonly offset?: number;
  readonly value?: number;
  /** After touching, compare each page with the page at the same offset of `compareWith` (xor `xor`, 0 or 0xff). */
  readonly compareWith?: number;
  readonly xor?: number;
}

export interface TouchResult {
  readonly touched: number;
  readonly mismatches: number;
  readonly firstMismatch?: { readonly page: number; readonly offset: number; readonly got: number; readonly want: number };
}

export interface ServeResult {
  readonly faults: number;
  /** Child uffds adopted on fork events (closed by the handler when it stops). */
  readonly adopted: number;
}

export type Job = ServeJob | TouchJob;

export interface Request {
  readonly id: number;
  readonly job: Job;
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string; readonly errorName: string };
