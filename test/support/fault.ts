// Helpers for tests that take faults: a Worker touches registered memory (the
// test thread serves the userfaultfd and never touches it), and every wait has
// a deadline, so a broken kernel or library fails the test instead of hanging.
import type { Uffd, UffdEvent } from "../../src/uffd/index.ts";
import type { TouchReply, TouchRequest } from "../workers/touch.worker.ts";

export class Timeout extends Error {
  override readonly name = "Timeout";
}

/** `p`, or a Timeout after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`${what}: nothing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next event on a non-blocking uffd, polled from this thread without blocking it. */
export async function nextEvent(u: Uffd, ms = 2000): Promise<UffdEvent> {
  const deadline = performance.now() + ms;
  for (;;) {
    const events = u.readEvents();
    if (events.length > 1) throw new Error(`expected one event, got ${events.length}`);
    if (events[0]) return events[0];
    if (performance.now() > deadline) throw new Timeout(`no userfaultfd event within ${ms} ms`);
    await Bun.sleep(1);
  }
}

/** Whether an event arrives within `ms` (it is consumed). */
export async function eventWithin(u: Uffd, ms: number): Promise<UffdEvent | undefined> {
  try {
    return await nextEvent(u, ms);
  } catch (e) {
    if (e instanceof Timeout) return undefined;
    throw e;
  }
}

/** A Worker that touches memory on request. */
export class Toucher {
  readonly #w: Worker;
  #pending?: (r: TouchReply) => void;
  /** The access in flight, if any. */
  inFlight?: Promise<TouchReply>;

  private constructor(w: Worker) {
    this.#w = w;
    w.onmessage = (e: MessageEvent<TouchReply>) => this.#pending?.(e.data);
  }

  static async start(): Promise<Toucher> {
    const w = new Worker(new URL("../workers/touch.worker.ts", import.meta.url));
    const ready = new Promise<void>((resolve, reject) => {
      w.onmessage = () => resolve();
      w.onerror = (e) => reject(new Error(`touch worker failed: ${e.message}`));
    });
    await within(ready, 5000, "touch worker start");
    return new Toucher(w);
  }

  /** Send one access; the promise settles when the Worker's access has completed. */
  touch(req: TouchRequest): Promise<TouchReply> {
    if (this.#pending) throw new Error("one touch at a time");
    this.inFlight = new Promise<TouchReply>((resolve) => {
      this.#pending = (r) => {
        this.#pending = undefined;
        this.inFlight = undefined;
        resolve(r);
      };
      this.#w.postMessage(req);
    });
    return this.inFlight;
  }

  /** Only once no fault of this Worker is left unserved (close the uffd first). */
  terminate(): void {
    this.#w.terminate();
  }
}
