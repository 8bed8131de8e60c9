// The Bun side of the bench: the product's handler Workers (serve.ts, started
// and stopped by harness/handlers.ts through UffdTestContext.startHandlers, as
// for unit cases and stress) serve faults raised by bench faulter Workers.
import { UffdTestContext } from "../harness/context.ts";
import { MEMORY } from "../harness/memory.ts";
import { WorkerPool } from "../harness/pool.ts";
import { MADV, madvise } from "../sys/mem.ts";
import { pinAllThreads } from "./affinity.ts";
import { processCpuNs } from "./cpu.ts";
import { FaulterSet, type FaultTiming, go, newControl } from "./faulters.ts";
import { type Kind, KINDS, type Scenario, scenarioLabel } from "./kinds.ts";

export interface BunSideOptions {
  /** Pin every thread to this CPU before each run. */
  readonly pin?: number;
}

/** One timed run: wall µs per fault, and CPU µs of the whole process per fault. */
export interface RunFigure {
  readonly us: number;
  readonly cpuUs: number;
}

class BenchTimeout extends Error {
  override readonly name = "BenchTimeout";
}

export class BunSide {
  readonly faulters = new FaulterSet();
  readonly pool = new WorkerPool();
  readonly #opts: BunSideOptions;
  #ctx: { key: string; ctx: UffdTestContext } | undefined;

  constructor(opts: BunSideOptions = {}) {
    this.#opts = opts;
  }

  /** One context at a time (each holds two areas of `pages` pages). */
  async #context(kind: Kind, s: Scenario): Promise<UffdTestContext> {
    const key = `${kind.name}/${s.mem}/${s.pages}`;
    if (this.#ctx?.key === key) return this.#ctx.ctx;
    await this.#ctx?.ctx.dispose();
    this.#ctx = undefined;
    const ctx = UffdTestContext.create(MEMORY[s.mem], {
      features: kind.features(s.mem),
      size: s.pages * 4096,
      pool: this.pool,
    });
    try {
      ctx.register(kind.register, { view: kind.view });
    } catch (e) {
      await ctx.dispose();
      throw e;
    }
    this.#ctx = { key, ctx };
    return ctx;
  }

  /** Put the area back where each touch faults once. */
  #prepare(kind: Kind, ctx: UffdTestContext): void {
    switch (kind.name) {
      case "missing+copy":
      case "missing+zeropage":
        ctx.dst.release();
        return;
      case "wp":
        madvise(ctx.dst.addr, ctx.size, MADV.POPULATE_WRITE);
        ctx.uffd.writeProtect(ctx.dstRange, { wp: true });
        return;
      case "minor":
        // Page cache filled through the unregistered view; the registered alias loses its PTEs.
        madvise(ctx.dst.addr, ctx.size, MADV.POPULATE_WRITE);
        madvise(ctx.dst.alias, ctx.size, MADV.DONTNEED);
        return;
    }
  }

  /** One timed run: µs per fault (the faulters' span over the pages) and the process's CPU µs per fault. */
  async run(s: Scenario): Promise<RunFigure> {
    const kind = KINDS[s.kind];
    const ctx = await this.#context(kind, s);
    if (ctx.pageSize !== 4096) throw new Error(`bench: ${s.mem} pages are ${ctx.pageSize} bytes, expected 4096`);
    this.#prepare(kind, ctx);
    const handlers = await ctx.startHandlers({
      count: s.handlers,
      mode: s.mode,
      strategy: kind.strategy,
      registered: kind.view,
      minorCheck: false,
    });
    const faulters = await this.faulters.take(s.faulters);
    const control = newControl();
    const per = Math.floor(s.pages / s.faulters);
    const base = kind.view === "alias" ? ctx.dst.alias : ctx.dst.addr;
    const jobs = faulters.map((f, i) =>
      f.run({
        start: base + i * per * ctx.pageSize,
        pages: i === s.faulters - 1 ? s.pages - i * per : per,
        pageSize: ctx.pageSize,
        write: kind.write,
        control: control.buffer,
      }),
    );
    // Give up on a run after this long (a handler that died leaves faulters waiting).
    const limit = Math.max(30_000, s.pages);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BenchTimeout(`bench run ${scenarioLabel(s)} ran past ${limit} ms`)), limit);
    });
    let timings: FaultTiming[];
    let cpu0 = 0;
    let cpu1 = 0;
    try {
      await Promise.race([Promise.all(jobs.map((j) => j.ready)), handlers.failed, timeout]);
      if (this.#opts.pin !== undefined) pinAllThreads(this.#opts.pin);
      // Let the handler Workers reach their loop before the first fault.
      await Bun.sleep(2);
      cpu0 = processCpuNs();
      go(control.words);
      timings = await Promise.race([Promise.all(jobs.map((j) => j.done)), handlers.failed, timeout]);
      cpu1 = processCpuNs();
    } catch (e) {
      // Faulters may wait in faults nobody serves: closing the uffd releases them; never reuse them.
      for (const f of faulters) this.faulters.retire(f);
      await this.#ctx?.ctx.dispose();
      this.#ctx = undefined;
      throw e;
    } finally {
      clearTimeout(timer);
    }
    await ctx.stopHandlers();
    const served = handlers.counters.total(kind.counter);
    if (served !== s.pages) throw new Error(`bench ${scenarioLabel(s)}: ${served} ${kind.counter} faults for ${s.pages} pages`);
    const t0 = Math.min(...timings.map((t) => t.t0));
    const t1 = Math.max(...timings.map((t) => t.t1));
    return { us: ((t1 - t0) * 1000) / s.pages, cpuUs: (cpu1 - cpu0) / 1000 / s.pages };
  }

  /** ms to first message of a fresh handler Worker (the product's entry), `n` times. */
  async handlerStartMs(n: number): Promise<number[]> {
    const out: number[] = [];
    const pool = new WorkerPool();
    try {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const w = await pool.acquire("handler");
        out.push(performance.now() - t0);
        w.terminate();
      }
    } finally {
      pool.shutdown();
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.#ctx?.ctx.dispose();
    this.#ctx = undefined;
    this.faulters.shutdown();
    this.pool.shutdown();
  }
}
