// Per-handler counters in a SharedArrayBuffer: the handler Worker adds with
// Atomics, the test reads them while it runs or after it stops.

export const COUNTER = {
  missing: 0,
  wp: 1,
  minor: 2,
  fork: 3,
  remove: 4,
  remap: 5,
  unmap: 6,
  /**
   * Faults read after a REMOVE event had the handler unregister their range
   * (the resolve gave ENOENT), woken with UFFDIO_WAKE: see serve.ts.
   */
  wokenAfterRemove: 7,
} as const;
export type CounterName = keyof typeof COUNTER;
/** Int32 counters per handler. */
export const SLOT = Object.keys(COUNTER).length;

export class HandlerCounters {
  readonly buffer: SharedArrayBuffer;
  readonly #a: Int32Array;
  readonly handlers: number;

  constructor(handlers: number, buffer?: SharedArrayBuffer) {
    this.handlers = handlers;
    this.buffer = buffer ?? new SharedArrayBuffer(handlers * SLOT * 4);
    this.#a = new Int32Array(this.buffer);
  }

  get(handler: number, name: CounterName): number {
    return Atomics.load(this.#a, handler * SLOT + COUNTER[name]);
  }

  add(handler: number, name: CounterName, n = 1): void {
    Atomics.add(this.#a, handler * SLOT + COUNTER[name], n);
  }

  total(name: CounterName): number {
    let t = 0;
    for (let h = 0; h < this.handlers; h++) t += this.get(h, name);
    return t;
  }

  perHandler(name: CounterName): number[] {
    return Array.from({ length: this.handlers }, (_, h) => this.get(h, name));
  }

  reset(): void {
    this.#a.fill(0);
  }
}

/**
 * The C suite's stats line, without its backspace byte:
 * `userfaults: 6094 missing (3925+2169) 12 wp (5+7)`; zero kinds are left out.
 */
export function statsLine(c: HandlerCounters): string {
  const parts: string[] = [];
  for (const kind of ["missing", "wp", "minor"] as const) {
    const total = c.total(kind);
    if (total > 0) parts.push(`${total} ${kind} (${c.perHandler(kind).join("+")})`);
  }
  return `userfaults: ${parts.join(" ")}`.trimEnd();
}
