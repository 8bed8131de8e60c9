// Fault-handler Workers on one uffd: start N, stop them, read their
// counters, and give up without hanging when something failed. Unit cases
// (through UffdTestContext), stress and the bench start handlers only here.
import { close, pipe, writeByte } from "../sys/fd.ts";
import { MAP, mmap, munmap, PAGE_SIZE } from "../sys/mem.ts";
import type { Uffd } from "../uffd/uffd.ts";
import { HandlerCounters } from "./counters.ts";
import type { PooledWorker, WorkerPool } from "./pool.ts";
import type { ServeJob, ServeResult, TouchJob, TouchResult } from "./protocol.ts";
import { firstRejection, within } from "./settle.ts";

/** What each handler serves: the fields of its job that its starter decides. */
export type ServeSpec = Omit<ServeJob, "type" | "uffdFd" | "stopFd" | "stopPages" | "counters" | "slot">;

/** Touch stop pages from a Worker (never from the thread that starts the handlers). */
export type StopToucher = (job: Omit<TouchJob, "type">, timeoutMs: number | undefined) => Promise<TouchResult>;

export interface HandlersOptions {
  readonly uffd: Uffd;
  readonly pool: WorkerPool;
  readonly count: number;
  /** poll+read (stopped by a byte down a pipe) or blocking read (stopped by a fault on a stop page). */
  readonly mode: "poll" | "read";
  readonly serve: ServeSpec;
  /** Read mode: armed afresh, one page per handler, at each start. */
  readonly stopPages: StopPages;
  readonly touchStop: StopToucher;
}

/**
 * Pages registered for missing faults, one per blocking-read handler: each
 * fault on one is read by exactly one handler, which maps it and returns.
 */
export class StopPages {
  readonly #uffd: Uffd;
  #addr = 0;
  #len = 0;
  #registered = false;

  constructor(uffd: Uffd) {
    this.#uffd = uffd;
  }

  get start(): number {
    return this.#addr;
  }

  /** `count` fresh (missing) stop pages, registered; returns their start. */
  arm(count: number): number {
    const len = count * PAGE_SIZE;
    // Unregistered first: replacing or unmapping a registered range would
    // raise an UNMAP event nobody reads yet.
    this.#unregister();
    if (this.#len < len) {
      // Too small: a fresh (missing) mapping of the new size.
      this.dispose();
      this.#addr = mmap(len);
      this.#len = len;
    } else {
      // Drop what an earlier stop faulted in. MAP_FIXED over our own mapping
      // replaces it in one step; unmapping first would leave a gap in which
      // another thread (Bun's allocator, a Worker) could map its own memory,
      // which the MAP_FIXED would then clobber.
      mmap(this.#len, { addr: this.#addr, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED });
    }
    this.#uffd.register({ start: this.#addr, len: this.#len }, { missing: true });
    this.#registered = true;
    return this.#addr;
  }

  /** After a failure: a stop fault no handler is left to read retries as an ordinary fault. */
  release(): void {
    if (this.#len === 0) return;
    try {
      this.#unregister();
    } catch {
      // gone already
    }
    this.#uffd.tryWake(this.#addr, this.#len);
  }

  dispose(): void {
    if (this.#len > 0) munmap(this.#addr, this.#len);
    this.#len = 0;
  }

  #unregister(): void {
    if (!this.#registered) return;
    this.#registered = false;
    this.#uffd.unregister({ start: this.#addr, len: this.#len });
  }
}

interface Running {
  readonly worker: PooledWorker;
  /** The stop pipe (poll mode). */
  readonly pipe: readonly [number, number] | undefined;
  readonly done: Promise<ServeResult>;
  finished: boolean;
}

export class Handlers {
  readonly counters: HandlerCounters;
  readonly mode: "poll" | "read";
  /** Each handler's job: resolves when it stops, rejects with its error. */
  readonly serving: readonly Promise<ServeResult>[];
  /** Rejects with the first handler error. */
  readonly failed: Promise<never>;
  readonly #o: HandlersOptions;
  readonly #running: readonly Running[];
  #stopped: Promise<ServeResult[]> | undefined;
  #released = false;

  private constructor(o: HandlersOptions, counters: HandlerCounters, running: Running[]) {
    this.#o = o;
    this.mode = o.mode;
    this.counters = counters;
    this.#running = running;
    this.serving = running.map((r) => r.done);
    this.failed = firstRejection(this.serving);
  }

  /** Start `count` handler Workers serving `uffd`. */
  static async start(o: HandlersOptions): Promise<Handlers> {
    const read = o.mode === "read";
    const stopStart = read ? o.stopPages.arm(o.count) : 0;
    o.uffd.setNonBlocking(!read);
    const workers = await Promise.all(Array.from({ length: o.count }, () => o.pool.acquire("handler")));
    const counters = new HandlerCounters(o.count);
    const running = workers.map((worker, slot): Running => {
      const stop = read ? undefined : pipe();
      const job: ServeJob = {
        ...o.serve,
        type: "serve",
        uffdFd: o.uffd.fd,
        stopFd: stop ? stop[0] : -1,
        stopPages: read ? { start: stopStart, len: o.count * PAGE_SIZE } : undefined,
        counters: counters.buffer,
        slot,
      };
      const entry: Running = { worker, pipe: stop, done: worker.run<ServeResult>(job), finished: false };
      entry.done.then(
        () => (entry.finished = true),
        () => (entry.finished = true),
      );
      return entry;
    });
    return new Handlers(o, counters, running);
  }

  /** Stop every handler and return what each served; throws the first handler error. */
  stop(opts: { timeoutMs?: number } = {}): Promise<ServeResult[]> {
    this.#stopped ??= this.#stop(opts.timeoutMs);
    return this.#stopped;
  }

  /**
   * After a failure elsewhere: stop what still runs, waiting at most
   * `settleMs` for each step, and never throw.
   */
  async abandon(settleMs: number): Promise<void> {
    const stopping = this.stop({ timeoutMs: settleMs }).catch(() => {});
    await within(Promise.allSettled(this.serving), settleMs);
    if (this.mode === "read") this.#o.stopPages.release();
    await within(stopping, settleMs);
    this.#release();
  }

  async #stop(timeoutMs: number | undefined): Promise<ServeResult[]> {
    try {
      await this.#signal(timeoutMs);
      const results = await Promise.allSettled(this.serving);
      const bad = results.find((r) => r.status === "rejected");
      if (bad) throw (bad as PromiseRejectedResult).reason;
      return results.map((r) => (r as PromiseFulfilledResult<ServeResult>).value);
    } finally {
      this.#release();
    }
  }

  /**
   * A byte down each stop pipe (poll), or a fault on one stop page per live
   * handler (blocking read): each fault is read by exactly one handler,
   * which resolves it and returns.
   */
  async #signal(timeoutMs: number | undefined): Promise<void> {
    const live = this.#running.filter((r) => !r.finished);
    if (this.mode === "poll") {
      for (const r of live) writeByte(r.pipe![1]);
      return;
    }
    if (live.length === 0) return;
    const job = { start: this.#o.stopPages.start, pages: live.length, pageSize: PAGE_SIZE, op: "read" } as const;
    const r = await this.#o.touchStop(job, timeoutMs);
    if (r.touched !== live.length) throw new Error(`stop pages touched ${r.touched} of ${live.length}`);
  }

  /** Workers back to the pool (one still busy is retired), pipes closed; once. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const r of this.#running) {
      this.#o.pool.release(r.worker);
      if (r.pipe) {
        close(r.pipe[0]);
        close(r.pipe[1]);
      }
    }
    if (this.mode === "read") this.#o.uffd.setNonBlocking(true);
  }
}
