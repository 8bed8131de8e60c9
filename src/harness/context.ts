// One context per (test x memory type): the areas, the uffd, the stop pipes
// and the Workers serving it. No module-level state; dispose() closes and
// unmaps everything, also when the test threw.
import { close, pipe, writeByte } from "../sys/fd.ts";
import { MAP, mmap, munmap, PAGE_SIZE } from "../sys/mem.ts";
import type { FeatureName } from "../uffd/constants.ts";
import type { IoctlSet } from "../uffd/bits.ts";
import { type OpenOptions, type RegisterModes, Uffd } from "../uffd/uffd.ts";
import { HandlerCounters } from "./counters.ts";
import { Area, type MemoryType, pageSizeOf } from "./memory.ts";
import { type PooledWorker, type WorkerPool, workerPool } from "./pool.ts";
import type { FaultStrategy, ServeResult, TouchJob, TouchResult } from "./protocol.ts";
import { initSourcePages } from "./source.ts";
import { caseLimitMs } from "./limits.ts";

/** The C unit tests' area size: max(32 MiB, 2 pages). */
export function defaultAreaSize(mem: MemoryType): number {
  return Math.max(32 * 1024 * 1024, 2 * pageSizeOf(mem));
}

/** Huge pages a context of this type and size fills (source plus destination). */
export function hugepagesNeeded(mem: MemoryType, size = defaultAreaSize(mem)): number {
  return mem.hugetlb ? (2 * size) / pageSizeOf(mem) : 0;
}

export interface ContextOptions {
  /** Features to enable in the handshake. */
  readonly features?: readonly FeatureName[];
  /** Bytes per area (default: the C unit tests' size). */
  readonly size?: number;
  readonly open?: OpenOptions;
  /** Write the mutex/counter layout into the source (default true). */
  readonly initSource?: boolean;
  readonly pool?: WorkerPool;
  /** Test only: handlers copy the wrong source page (ServeJob.wrongPage). */
  readonly wrongPage?: boolean;
}

export interface HandlerOptions {
  readonly count?: number;
  readonly mode?: "poll" | "read";
  readonly strategy?: FaultStrategy;
  readonly applyWp?: boolean;
  readonly forbidWriteMissing?: boolean;
  readonly moveChunk?: number;
  readonly onFork?: "follow" | "close";
  /** Minor faults: flip bytes and check the repeat CONTINUE (default true; see ServeJob). */
  readonly minorCheck?: boolean;
  /**
   * Which view faults arrive at. "dst" (default): missing/wp faults on
   * dst.addr. "alias": the minor-fault layout, registered alias, handler
   * flips bytes through dst.addr.
   */
  readonly registered?: "dst" | "alias";
}

interface Running {
  readonly worker: PooledWorker;
  readonly stopRead: number;
  readonly stopWrite: number;
  readonly done: Promise<ServeResult>;
  finished: boolean;
}

/** Fault-handler Workers serving a context's uffd. */
export class Handlers {
  readonly counters: HandlerCounters;
  readonly mode: "poll" | "read";
  readonly #ctx: UffdTestContext;
  readonly #running: Running[];
  readonly #stopPages: number;
  /** Rejects with the first handler error. */
  readonly failed: Promise<never>;
  #stopped: Promise<ServeResult[]> | undefined;

  constructor(ctx: UffdTestContext, counters: HandlerCounters, mode: "poll" | "read", running: Running[], stopPages: number) {
    this.#ctx = ctx;
    this.counters = counters;
    this.mode = mode;
    this.#running = running;
    this.#stopPages = stopPages;
    this.failed = new Promise<never>((_, reject) => {
      for (const r of running) r.done.catch(reject);
    });
    this.failed.catch(() => {});
  }

  /** Stop every handler and return what each served; throws the first handler error. */
  stop(opts: { timeoutMs?: number } = {}): Promise<ServeResult[]> {
    this.#stopped ??= this.#stop(opts.timeoutMs ?? caseLimitMs(30_000));
    return this.#stopped;
  }

  async #stop(timeoutMs: number): Promise<ServeResult[]> {
    const live = this.#running.filter((r) => !r.finished);
    if (this.mode === "poll") {
      for (const r of live) writeByte(r.stopWrite);
    } else if (live.length > 0) {
      // Blocking readers wake only for a message: fault their stop pages, one per live handler.
      await this.#ctx.touch(
        { start: this.#stopPages, pages: live.length, pageSize: PAGE_SIZE, op: "read" },
        { timeoutMs, raceHandlers: false },
      );
    }
    const results = await Promise.allSettled(this.#running.map((r) => r.done));
    const pool = this.#ctx.pool;
    for (const r of this.#running) {
      pool.release(r.worker);
      close(r.stopRead);
      close(r.stopWrite);
    }
    if (this.mode === "read") this.#ctx.uffd.setNonBlocking(true);
    const bad = results.find((r) => r.status === "rejected");
    if (bad) throw (bad as PromiseRejectedResult).reason;
    return results.map((r) => (r as PromiseFulfilledResult<ServeResult>).value);
  }
}

export class UffdTestContext {
  readonly mem: MemoryType;
  readonly pageSize: number;
  readonly size: number;
  readonly pages: number;
  readonly src: Area;
  readonly dst: Area;
  readonly uffd: Uffd;
  readonly pool: WorkerPool;
  /** Expected counter of every page (source layout). */
  countVerify: Float64Array;
  #handlers: Handlers | undefined;
  #stopArea: { addr: number; len: number; registered: boolean } | undefined;
  #disposed = false;
  readonly #wrongPage: boolean;
  /** Toucher jobs not yet settled: their Workers may still be inside our memory. */
  readonly #inflight = new Set<Promise<unknown>>();

  private constructor(
    mem: MemoryType, size: number,
    parts: { src: Area; dst: Area; uffd: Uffd; pool: WorkerPool; verify: Float64Array; wrongPage: boolean },
  ) {
    const { src, dst, uffd, pool, verify } = parts;
    this.#wrongPage = parts.wrongPage;
    this.mem = mem;
    this.pageSize = src.pageSize;
    this.size = size;
    this.pages = size / src.pageSize;
    this.src = src;
    this.dst = dst;
    this.uffd = uffd;
    this.pool = pool;
    this.countVerify = verify;
  }

  static create(mem: MemoryType, opts: ContextOptions = {}): UffdTestContext {
    const size = opts.size ?? defaultAreaSize(mem);
    const src = Area.allocate(mem, size, { role: "src" });
    let dst: Area | undefined;
    try {
      dst = Area.allocate(mem, size, { role: "dst" });
      const verify = opts.initSource === false
        ? new Float64Array(size / src.pageSize)
        : initSourcePages(src.addr, size / src.pageSize, src.pageSize);
      // The destination starts empty whatever happened while the source was written.
      dst.release();
      const uffd = Uffd.create({ ...opts.open, features: opts.features ?? [] });
      return new UffdTestContext(mem, size, { src, dst, uffd, pool: opts.pool ?? workerPool(), verify, wrongPage: opts.wrongPage ?? false });
    } catch (e) {
      dst?.dispose();
      src.dispose();
      throw e;
    }
  }

  get dstRange(): { start: number; len: number } {
    return { start: this.dst.addr, len: this.size };
  }

  /** Register the destination (or its alias view) with the context's uffd. */
  register(modes: RegisterModes, opts: { view?: "dst" | "alias" } = {}): IoctlSet {
    const start = opts.view === "alias" ? this.dst.alias : this.dst.addr;
    return this.uffd.register({ start, len: this.size }, modes);
  }

  unregister(opts: { view?: "dst" | "alias" } = {}): void {
    const start = opts.view === "alias" ? this.dst.alias : this.dst.addr;
    this.uffd.unregister({ start, len: this.size });
  }

  /** Start fault-handler Workers on this context's uffd. */
  async startHandlers(opts: HandlerOptions = {}): Promise<Handlers> {
    if (this.#handlers) throw new Error("handlers already running on this context");
    const count = opts.count ?? 1;
    const mode = opts.mode ?? "poll";
    const counters = new HandlerCounters(count);
    const alias = opts.registered === "alias";
    let stopPages = 0;
    if (mode === "read") {
      stopPages = this.#stopPagesFor(count);
      this.uffd.setNonBlocking(false);
    }
    const workers = await Promise.all(Array.from({ length: count }, () => this.pool.acquire("handler")));
    const running: Running[] = workers.map((worker, slot) => {
      const [stopRead, stopWrite] = pipe();
      const entry: Running = {
        worker, stopRead, stopWrite, finished: false,
        done: worker.run<ServeResult>({
          type: "serve",
          uffdFd: this.uffd.fd,
          featuresHex: this.uffd.enabled.mask.toString(16),
          stopFd: stopRead,
          mode,
          strategy: opts.strategy ?? "copy",
          dst: this.dst.addr,
          dstAlias: alias ? this.dst.alias : this.dst.addr,
          src: this.src.addr,
          size: this.size,
          pageSize: this.pageSize,
          applyWp: opts.applyWp ?? false,
          forbidWriteMissing: opts.forbidWriteMissing ?? false,
          moveChunk: opts.moveChunk,
          stopPages: mode === "read" ? { start: stopPages, len: count * PAGE_SIZE } : undefined,
          onFork: opts.onFork ?? "follow",
          minorCheck: opts.minorCheck,
          counters: counters.buffer,
          slot,
          wrongPage: this.#wrongPage,
        }),
      };
      entry.done.then(() => (entry.finished = true), () => (entry.finished = true));
      return entry;
    });
    this.#handlers = new Handlers(this, counters, mode, running, stopPages);
    return this.#handlers;
  }

  /** Stop the running handlers (if any) and return their results. */
  async stopHandlers(): Promise<ServeResult[]> {
    const h = this.#handlers;
    if (!h) return [];
    this.#handlers = undefined;
    return h.stop();
  }

  get handlers(): Handlers | undefined {
    return this.#handlers;
  }

  /**
   * Touch memory from a pooled toucher Worker (never from this thread). The
   * promise also rejects when a running handler fails, so a dead handler
   * ends the test instead of hanging it.
   */
  async touch(
    job: Omit<TouchJob, "type">,
    opts: { timeoutMs?: number; raceHandlers?: boolean } = {},
  ): Promise<TouchResult> {
    const w = await this.pool.acquire("toucher");
    const { result: run, finished } = w.runTracked<TouchResult>({ type: "touch", ...job }, { timeoutMs: opts.timeoutMs ?? caseLimitMs(30_000) });
    this.#inflight.add(finished);
    finished.then(() => this.#inflight.delete(finished));
    try {
      const h = opts.raceHandlers === false ? undefined : this.#handlers;
      return await (h ? Promise.race([run, h.failed]) : run);
    } finally {
      // A toucher still blocked in a fault is retired by the pool, not reused.
      run.then(() => this.pool.release(w), () => this.pool.release(w));
    }
  }

  /** Touch every destination page and compare it with the source. */
  verifyDst(opts: { op?: "read" | "write"; view?: "dst" | "alias"; xor?: number; timeoutMs?: number } = {}): Promise<TouchResult> {
    return this.touch(
      {
        start: opts.view === "alias" ? this.dst.alias : this.dst.addr,
        pages: this.pages,
        pageSize: this.pageSize,
        op: opts.op ?? "read",
        compareWith: this.src.addr,
        xor: opts.xor,
      },
      { timeoutMs: opts.timeoutMs },
    );
  }

  #stopPagesFor(count: number): number {
    const len = count * PAGE_SIZE;
    if (this.#stopArea && this.#stopArea.len < len) {
      munmap(this.#stopArea.addr, this.#stopArea.len);
      this.#stopArea = undefined;
    }
    if (!this.#stopArea) {
      const addr = mmap(len);
      this.#stopArea = { addr, len, registered: false };
    }
    const s = this.#stopArea;
    // Fresh (missing) stop pages each time: drop what an earlier stop faulted in.
    if (s.registered) this.uffd.unregister({ start: s.addr, len: s.len });
    // MAP_FIXED over our own mapping replaces it in one step. Unmapping first
    // left a gap in which another thread (Bun's allocator, a Worker) could map
    // its own memory, which the MAP_FIXED then clobbered: the arm64 crashes.
    mmap(s.len, { addr: s.addr, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED });
    this.uffd.register({ start: s.addr, len: s.len }, { missing: true });
    s.registered = true;
    return s.addr;
  }

  /** Stop handlers, close the uffd, unmap everything. Idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      await this.stopHandlers();
    } catch {
      // A handler failure reached the test through `Handlers.failed` or `stop()`.
    }
    // Closing the uffd wakes any thread still waiting in a fault; it then
    // retries the access as an ordinary fault. Unmapping before it has done
    // so would turn that retry into a SIGSEGV that kills the process.
    this.uffd.close();
    if (this.#inflight.size > 0) {
      const quiet = await Promise.race([
        Promise.allSettled([...this.#inflight]).then(() => true),
        Bun.sleep(10_000).then(() => false),
      ]);
      if (!quiet) {
        // A Worker is still inside the areas: leaking them is the safe choice.
        return;
      }
    }
    if (this.#stopArea) munmap(this.#stopArea.addr, this.#stopArea.len);
    this.dst.dispose();
    this.src.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
