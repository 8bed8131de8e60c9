// Messages between the test side and pooled Workers.
// Every Job type a pooled Worker runs lives here; this file imports no runner.
import type { SigbusResolveArgs } from "../sys/native/faults.ts";

export type FaultStrategy = "copy" | "zeropage" | "move" | "poison";

/** What a handler Worker is told to serve. Plain data: it crosses postMessage. */
export interface ServeJob {
  readonly type: "serve";
  readonly uffdFd: number;
  /** Read end of this handler's stop pipe (poll mode). */
  readonly stopFd: number;
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
  /**
   * Minor faults: flip the page's bytes through the other view and check that a
   * second CONTINUE gives EEXIST (default true, the unit tests). The bench turns
   * it off to serve each minor fault with one CONTINUE, as its C reference does.
   */
  readonly minorCheck?: boolean;
  /** On a fork event: follow the child's uffd (events tests) or close it (fork loops). */
  readonly onFork: "follow" | "close";
  readonly counters: SharedArrayBuffer;
  readonly slot: number;
  /**
   * Test only (UFFD_SUITE_PLANT=wrong-page): resolve each missing fault by
   * copying the next page of the source, as a kernel that copied from the
   * wrong offset would; every content check must then fail.
   */
  readonly wrongPage?: boolean;
}

export interface TouchJob {
  readonly type: "touch";
  readonly start: number;
  readonly pages: number;
  readonly pageSize: number;
  /**
   * read: load one byte per page; write: store `value` at `offset`. The
   * kernel-side ops (see TouchSyscallOp) make a system call instead.
   */
  readonly op: "read" | "write" | TouchSyscallOp;
  readonly offset?: number;
  readonly value?: number;
  /** After touching, compare each page with the page at the same offset of `compareWith` (xor `xor`, 0 or 0xff). */
  readonly compareWith?: number;
  readonly xor?: number;
  /** Report this Worker's thread id (gettid) in the result. */
  readonly reportTid?: boolean;
  /**
   * Progress the test can watch while the Worker is blocked, Int32 slots:
   * [0] pages done so far; [1] a value the test sets; [2 + p] what [1] held
   * when page p was done (proves the order of the test's steps and the access).
   */
  readonly progress?: SharedArrayBuffer;
  /** write-fd: the fd to write(2) to, and bytes per page (from `offset`). */
  readonly fd?: number;
  readonly len?: number;
  /** mremap: the new length (no MREMAP_MAYMOVE: it shrinks in place). */
  readonly newLen?: number;
}

/**
 * System calls a toucher makes on the job's range (never from the test
 * thread, which may have to read a userfaultfd event or serve a fault first):
 * write-fd: write(fd, page + offset, len) for each page, the kernel reads the
 * page (a kernel-mode access); munmap / mremap: unmap or shrink the range
 * (pages x pageSize bytes), which blocks until an EVENT_UNMAP message is read.
 */
export type TouchSyscallOp = "write-fd" | "munmap" | "mremap";

export interface TouchResult {
  readonly touched: number;
  readonly mismatches: number;
  readonly firstMismatch?: {
    readonly page: number;
    readonly offset: number;
    readonly got: number;
    readonly want: number;
    /** Against a tagged source page (source.ts): `page N holds page M's data` when the tag is another's. */
    readonly wrongPage?: string;
  };
  /** The Worker's thread id, when the job asked (reportTid). */
  readonly tid?: number;
  /** Syscall ops: the last call's result (bytes written, or 0), or -errno of the first failing call. */
  readonly rc?: number;
}

export interface ServeResult {
  readonly faults: number;
  /** Child uffds adopted on fork events (closed by the handler when it stops). */
  readonly adopted: number;
}

/** madvise() from a pooled Worker (madvise-job.ts): advice that can block until a uffd event is read. */
export interface MadviseJob {
  readonly type: "madvise";
  readonly addr: number;
  readonly len: number;
  readonly advice: number;
  /** Int32 slot where the Worker writes its thread id before the call. */
  readonly tid: SharedArrayBuffer;
}

/** A C faulting loop on a toucher Worker (native-fault.ts). */
export type NativeFaultJob =
  | { readonly type: "native-fault"; readonly routine: "sigbus-resolve"; readonly args: SigbusResolveArgs }
  | { readonly type: "native-fault"; readonly routine: "poison-scan"; readonly args: { dst: number; pages: number; pageSize: number } };

export type Job = ServeJob | TouchJob | MadviseJob | NativeFaultJob;

export interface Request {
  readonly id: number;
  readonly job: Job;
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string; readonly errorName: string };
