// The control block explore's main thread and its toucher Worker share
// (a SharedArrayBuffer): one request at a time, its reply, and the op codes.
export const TOUCH_OP = {
  READ: 1,
  WRITE: 2,
  SCAN: 3,
  MADVISE: 4,
  MREMAP: 5,
  REMAP_FRESH: 6,
  EXIT: 7,
} as const;

/** Int32 slots. */
export const I = { SEQ: 0, OP: 1, VALUE: 2, DONE: 3, RESULT: 4, SIGBUS: 5, TID: 6, FD: 7, FLAGS: 8 } as const;
/** Float64 slots (addresses and lengths fit in 53 bits). */
export const D = { ADDR: 8, LEN: 9, ARG: 10, OFFSET: 11 } as const;
export const CONTROL_BYTES = 128;

export interface ToucherInit {
  readonly sab: SharedArrayBuffer;
  /** Write end of the pipe the Worker signals each reply on. */
  readonly doneFd: number;
}
