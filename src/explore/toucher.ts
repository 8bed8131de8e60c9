// The main thread's side of the toucher Worker: send one request, then wait
// for its reply while reading the userfaultfd, so faults and events it raises
// are served (and checked) here while it waits.
import { readFileSync } from "node:fs";
import { workerUrl } from "../workers.ts";
import { close, pipe } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";
import { CONTROL_BYTES, D, I, TOUCH_OP } from "./shared.ts";

export type Wait =
  | { readonly type: "uffd" }
  | { readonly type: "done"; readonly result: number; readonly sigbus: boolean }
  | { readonly type: "timeout" };

export class Toucher {
  readonly #w: Worker;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #doneRead: number;
  readonly #doneWrite: number;
  readonly #pfd = new Int32Array(new ArrayBuffer(16));
  readonly #byte = new Uint8Array(new ArrayBuffer(64));
  #seq = 0;
  /** A request is out and not answered: the Worker may be asleep in a fault. */
  busy = false;
  tid = 0;

  private constructor(w: Worker, sab: SharedArrayBuffer, doneRead: number, doneWrite: number) {
    this.#w = w;
    this.#i32 = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.#f64 = new Float64Array(sab, 0, CONTROL_BYTES / 8);
    this.#doneRead = doneRead;
    this.#doneWrite = doneWrite;
  }

  static async start(): Promise<Toucher> {
    const sab = new SharedArrayBuffer(CONTROL_BYTES);
    const [r, w] = pipe();
    const worker = new Worker(workerUrl("explore-toucher"));
    const t = new Toucher(worker, sab, r, w);
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (e) => reject(new Error(`explore toucher: ${e.message}`));
      worker.postMessage({ sab, doneFd: w });
    });
    while (Atomics.load(t.#i32, I.TID) === 0) await Bun.sleep(1);
    t.tid = Atomics.load(t.#i32, I.TID);
    worker.unref();
    return t;
  }

  /** Send a request (answered through wait()). */
  send(
    op: number,
    addr: number,
    opts: { value?: number; len?: number; arg?: number; fd?: number; flags?: number; offset?: number } = {},
  ): void {
    if (this.busy) throw new Error("explore toucher: a request is still out");
    const i = this.#i32;
    const f = this.#f64;
    i[I.OP] = op;
    i[I.VALUE] = opts.value ?? 0;
    i[I.FD] = opts.fd ?? -1;
    i[I.FLAGS] = opts.flags ?? 0;
    f[D.ADDR] = addr;
    f[D.LEN] = opts.len ?? 0;
    f[D.ARG] = opts.arg ?? 0;
    f[D.OFFSET] = opts.offset ?? 0;
    this.busy = true;
    Atomics.store(i, I.SEQ, ++this.#seq);
    Atomics.notify(i, I.SEQ);
  }

  /** Wait until the userfaultfd is readable or the reply came, up to `ms`. */
  wait(uffd: number, ms: number): Wait {
    const p = this.#pfd;
    p[0] = uffd;
    p[1] = 1; // POLLIN
    p[2] = this.#doneRead;
    p[3] = 1;
    const n = libc.poll(p, 2, ms);
    if (n > 0 && p[3]! >>> 16) {
      libc.read(this.#doneRead, this.#byte, 64);
      if (Atomics.load(this.#i32, I.DONE) === this.#seq) {
        this.busy = false;
        return { type: "done", result: this.#i32[I.RESULT]!, sigbus: this.#i32[I.SIGBUS]! !== 0 };
      }
    }
    if (n > 0 && p[1]! >>> 16) return { type: "uffd" };
    if (!this.busy) return { type: "timeout" };
    return n === 0 ? { type: "timeout" } : this.wait(uffd, ms);
  }

  /**
   * Whether the Worker thread is running or waiting to run (R) rather than
   * asleep: a slow machine, not a lost wake-up.
   */
  running(): boolean {
    try {
      const stat = readFileSync(`/proc/self/task/${this.tid}/stat`, "utf8");
      return /^\d+ \(.*\) [RD]/.test(stat);
    } catch {
      return false;
    }
  }

  /** The reply, if it already came (no waiting). */
  poll(): boolean {
    return Atomics.load(this.#i32, I.DONE) === this.#seq;
  }

  /** End the Worker (it must not be asleep in a fault). */
  stop(): void {
    this.#i32[I.OP] = TOUCH_OP.EXIT;
    Atomics.store(this.#i32, I.SEQ, ++this.#seq);
    Atomics.notify(this.#i32, I.SEQ);
    this.#w.terminate();
    close(this.#doneRead);
    close(this.#doneWrite);
  }
}
