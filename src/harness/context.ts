// One context per (test x memory type): the areas, the uffd, its stop pages
// and the Handlers serving it (handlers.ts). No module-level state; dispose() closes and
// unmaps everything, also when the test threw.
import { within } from "./settle.ts";
import type { FeatureName } from "../uffd/constants.ts";
import type { IoctlSet } from "../uffd/bits.ts";
import { type OpenOptions, type RegisterModes, Uffd } from "../uffd/uffd.ts";
import { Handlers, StopPages } from "./handlers.ts";
import { Area, type MemoryType, pageSizeOf } from "./memory.ts";
import { type WorkerPool, workerPool } from "./pool.ts";
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
  readonly #stopPages: StopPages;
  #disposed = false;
  readonly #wrongPage: boolean;
  /** Toucher jobs not yet settled: their Workers may still be inside our memory. */
  readonly #inflight = new Set<Promise<unknown>>();

  private constructor(
    mem: MemoryType,
    size: number,
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
    this.#stopPages = new StopPages(uffd);
  }

  static create(mem: MemoryType, opts: ContextOptions = {}): UffdTestContext {
    const size = opts.size ?? defaultAreaSize(mem);
    const src = Area.allocate(mem, size, { role: "src" });
    let dst: Area | undefined;
    try {
      dst = Area.allocate(mem, size, { role: "dst" });
      const verify =
        opts.initSource === false ? new Float64Array(size / src.pageSize) : initSourcePages(src.addr, size / src.pageSize, src.pageSize);
      // The destination starts empty whatever happened while the source was written.
      dst.release();
      const uffd = Uffd.create({ ...opts.open, features: opts.features ?? [] });
      return new UffdTestContext(mem, size, {
        src,
        dst,
        uffd,
        pool: opts.pool ?? workerPool(),
        verify,
        wrongPage: opts.wrongPage ?? false,
      });
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
    this.#handlers = await Handlers.start({
      uffd: this.uffd,
      pool: this.pool,
      count: opts.count ?? 1,
      mode: opts.mode ?? "poll",
      stopPages: this.#stopPages,
      touchStop: (job, timeoutMs) => this.touch(job, { timeoutMs, raceHandlers: false }),
      serve: {
        strategy: opts.strategy ?? "copy",
        dst: this.dst.addr,
        dstAlias: opts.registered === "alias" ? this.dst.alias : this.dst.addr,
        src: this.src.addr,
        size: this.size,
        pageSize: this.pageSize,
        applyWp: opts.applyWp ?? false,
        forbidWriteMissing: opts.forbidWriteMissing ?? false,
        moveChunk: opts.moveChunk,
        onFork: opts.onFork ?? "follow",
        minorCheck: opts.minorCheck,
        wrongPage: this.#wrongPage,
      },
    });
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
  async touch(job: Omit<TouchJob, "type">, opts: { timeoutMs?: number; raceHandlers?: boolean } = {}): Promise<TouchResult> {
    const w = await this.pool.acquire("toucher");
    const { result: run, finished } = w.runTracked<TouchResult>(
      { type: "touch", ...job },
      { timeoutMs: opts.timeoutMs ?? caseLimitMs(30_000) },
    );
    this.#inflight.add(finished);
    finished.then(() => this.#inflight.delete(finished));
    try {
      const h = opts.raceHandlers === false ? undefined : this.#handlers;
      return await (h ? Promise.race([run, h.failed]) : run);
    } finally {
      // A toucher still blocked in a fault is retired by the pool, not reused.
      run.then(
        () => this.pool.release(w),
        () => this.pool.release(w),
      );
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
      if (!(await within(Promise.allSettled([...this.#inflight]), 10_000))) {
        // A Worker is still inside the areas: leaking them is the safe choice.
        return;
      }
    }
    this.#stopPages.dispose();
    this.dst.dispose();
    this.src.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
