// Workers are started once and reused across tests and stress bounces.
import { type WorkerName, workerUrl } from "../workers.ts";
import type { Job, Reply } from "./protocol.ts";

export class WorkerJobError extends Error {
  override readonly name: string;
  constructor(message: string, name: string) {
    super(message);
    this.name = name === "Error" ? "WorkerJobError" : name;
  }
}

export class WorkerTimeoutError extends Error {
  override readonly name = "WorkerTimeoutError";
}

/** One pooled Worker; runs one job at a time. */
export class PooledWorker {
  readonly kind: WorkerName;
  readonly #w: Worker;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Per job id: resolves when the Worker replies, even after the job's time limit passed. */
  readonly #finished = new Map<number, () => void>();
  #nextId = 1;
  /** Set when a job outlived its time limit: the Worker may be stuck and is never reused. */
  stuck = false;

  private constructor(kind: WorkerName, w: Worker) {
    this.kind = kind;
    this.#w = w;
    w.onmessage = (e: MessageEvent<Reply>) => {
      const r = e.data;
      this.#finished.get(r.id)?.();
      this.#finished.delete(r.id);
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) this.#w.unref();
      if (r.ok) p.resolve(r.result);
      else p.reject(new WorkerJobError(r.error, r.errorName));
    };
    w.onerror = (e) => {
      for (const p of this.#pending.values()) p.reject(new Error(`worker ${kind} failed: ${e.message}`));
      this.#pending.clear();
      for (const done of this.#finished.values()) done();
      this.#finished.clear();
      this.stuck = true;
    };
  }

  static start(kind: WorkerName): Promise<PooledWorker> {
    const w = new Worker(workerUrl(kind));
    const pw = new PooledWorker(kind, w);
    return new Promise((resolve, reject) => {
      pw.#pending.set(0, { resolve: () => resolve(pw), reject });
    });
  }

  /** Run a job; with `timeoutMs` the promise rejects (and the Worker is retired) when it runs longer. */
  run<T>(job: Job, opts: { timeoutMs?: number } = {}): Promise<T> {
    return this.runTracked<T>(job, opts).result;
  }

  /**
   * Like run(), plus `finished`: settles only when the Worker has really
   * stopped working on the job (a time limit rejects `result` but a Worker
   * blocked in a fault goes on until the fault is resolved).
   */
  runTracked<T>(job: Job, opts: { timeoutMs?: number } = {}): { result: Promise<T>; finished: Promise<void> } {
    const id = this.#nextId++;
    const finished = new Promise<void>((resolve) => this.#finished.set(id, resolve));
    const result = new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.#pending.set(id, {
        resolve: (v) => {
          if (timer) clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#pending.delete(id);
          this.stuck = true;
          reject(new WorkerTimeoutError(`${job.type} job in a ${this.kind} worker ran past ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
      }
      // Keep the event loop holding the Worker while it works: awaiting an
      // unref'd Worker with nothing else alive spins this thread (Bun 1.4.4).
      if (this.#pending.size === 1) this.#w.ref();
      this.#w.postMessage({ id, job });
    });
    return { result, finished };
  }

  get busy(): boolean {
    return this.#pending.size > 0;
  }

  terminate(): void {
    this.#w.terminate();
  }

  unref(): void {
    this.#w.unref();
  }
}

/** A set of idle Workers by kind. */
export class WorkerPool {
  readonly #idle = new Map<WorkerName, PooledWorker[]>();
  readonly #all = new Set<PooledWorker>();
  /** Worker starts so far (a figure for reports: pooling keeps it small). */
  started = 0;

  async acquire(kind: WorkerName): Promise<PooledWorker> {
    const idle = this.#idle.get(kind);
    const w = idle?.pop();
    if (w) return w;
    const fresh = await PooledWorker.start(kind);
    fresh.unref();
    this.started++;
    this.#all.add(fresh);
    return fresh;
  }

  /** Start `n` Workers of a kind ahead of time. */
  async warm(kind: WorkerName, n: number): Promise<void> {
    const ws = await Promise.all(Array.from({ length: n }, () => this.acquire(kind)));
    for (const w of ws) this.release(w);
  }

  release(w: PooledWorker): void {
    if (w.stuck || w.busy) {
      // Possibly blocked in a fault or a read: never hand it out again.
      w.terminate();
      this.#all.delete(w);
      return;
    }
    const list = this.#idle.get(w.kind) ?? [];
    list.push(w);
    this.#idle.set(w.kind, list);
  }

  /** Terminate every Worker (idle ones wake from poll with EINTR). */
  shutdown(): void {
    for (const w of this.#all) w.terminate();
    this.#all.clear();
    this.#idle.clear();
  }

  get size(): number {
    return this.#all.size;
  }
}

let shared: WorkerPool | undefined;

/** The process-wide pool. */
export function workerPool(): WorkerPool {
  shared ??= new WorkerPool();
  return shared;
}
