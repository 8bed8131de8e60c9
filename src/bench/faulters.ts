// The bench's faulting Workers: started once, reused for every run.
import { workerUrl } from "../workers.ts";
import { CONTROL, type FaulterMessage, type FaultJob } from "./protocol.ts";

export interface FaultTiming {
  /** ms on the shared clock (performance.timeOrigin + now()). */
  readonly t0: number;
  readonly t1: number;
  readonly touched: number;
}

export class Faulter {
  readonly #w: Worker;
  #listener: ((m: FaulterMessage) => void) | undefined;
  /** A run outlived its limit: the Worker may sit in an unserved fault. */
  stuck = false;

  private constructor(w: Worker) {
    this.#w = w;
    w.onmessage = (e: MessageEvent<FaulterMessage>) => this.#listener?.(e.data);
    w.onerror = (e) => this.#listener?.({ type: "error", message: e.message });
  }

  /** Start a Worker; resolves with it and the ms until its first message. */
  static start(): Promise<{ faulter: Faulter; startMs: number }> {
    const t0 = performance.now();
    const f = new Faulter(new Worker(workerUrl("bench-faulter")));
    f.#w.unref();
    return new Promise((resolve, reject) => {
      f.#listener = (m) => {
        f.#listener = undefined;
        if (m.type === "started") resolve({ faulter: f, startMs: performance.now() - t0 });
        else reject(new Error(`bench faulter failed to start: ${m.type === "error" ? m.message : m.type}`));
      };
    });
  }

  /**
   * Post a job; `ready` resolves once the Worker waits for the go signal,
   * `done` with its timing.
   */
  run(job: FaultJob): { ready: Promise<void>; done: Promise<FaultTiming> } {
    let readyOk!: () => void;
    let readyFail!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      readyOk = resolve;
      readyFail = reject;
    });
    ready.catch(() => {});
    const done = new Promise<FaultTiming>((resolve, reject) => {
      this.#listener = (m) => {
        if (m.type === "ready") return readyOk();
        this.#listener = undefined;
        if (m.type === "done") return resolve({ t0: m.t0, t1: m.t1, touched: m.touched });
        const e = new Error(`bench faulter: ${m.type === "error" ? m.message : `unexpected ${m.type}`}`);
        readyFail(e);
        reject(e);
      };
    });
    this.#w.postMessage(job);
    return { ready, done };
  }

  terminate(): void {
    this.#w.terminate();
  }
}

/** Faulting Workers, kept across runs. */
export class FaulterSet {
  readonly #idle: Faulter[] = [];

  async take(n: number): Promise<Faulter[]> {
    while (this.#idle.length < n) {
      const { faulter } = await Faulter.start();
      this.#idle.push(faulter);
    }
    return this.#idle.slice(0, n);
  }

  /** Retire a Worker that may be stuck. */
  retire(f: Faulter): void {
    const i = this.#idle.indexOf(f);
    if (i >= 0) this.#idle.splice(i, 1);
    f.terminate();
  }

  shutdown(): void {
    for (const f of this.#idle.splice(0)) f.terminate();
  }
}

/** A fresh control buffer for one run. */
export function newControl(): { buffer: SharedArrayBuffer; words: Int32Array } {
  const buffer = new SharedArrayBuffer(8);
  return { buffer, words: new Int32Array(buffer) };
}

/** Let every faulter that waits on `words` go. */
export function go(words: Int32Array): void {
  Atomics.store(words, CONTROL.go, 1);
  Atomics.notify(words, CONTROL.go);
}
