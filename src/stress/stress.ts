// uffd-stress, rebuilt: bounce the pages of an area between two mappings
// through userfaultfd while locking threads hammer them (uffd-stress.c).
//
// Per group (min(CPUs, 32) of them) three pooled Workers: a locking loop, a
// fault handler (serve.ts) and a background copier. This thread only
// orchestrates: it registers, releases, verifies unregistered memory, and
// never touches registered memory nor serves the uffd. The locking and
// copying Workers are acquired once per run and get one job per bounce; the
// handlers are started and stopped per bounce by harness/handlers.ts (the
// pool hands the same Workers back). During a bounce the Workers are steered
// through Atomics on a SharedArrayBuffer.
import { statsLine } from "../harness/counters.ts";
import { Handlers, StopPages } from "../harness/handlers.ts";
import { hugepageShortage, reserveHugepages } from "../machine/hugepages.ts";
import { Area, lackingFor, type MemoryType } from "../harness/memory.ts";
import { type PooledWorker, type WorkerPool, workerPool } from "../harness/pool.ts";
import type { Job, TouchResult } from "../harness/protocol.ts";
import type { SettingChange } from "../machine/restore.ts";
import { COUNT_OFFSET, initSourcePages, TAG_OFFSET } from "../harness/source.ts";
import { firstRejection, within } from "../harness/settle.ts";
import { MAP, mmap, toArrayBufferAt } from "../sys/mem.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import type { FeatureName } from "../uffd/constants.ts";
import { probeFeatures, Uffd } from "../uffd/uffd.ts";
import type { StressGeometry } from "./geometry.ts";
import { firstSequentialPage, verifyPages } from "./verify.ts";
import { BOUNCE, bounceModeLabel, type CopyJob, type CopyResult, CTRL, CTRL_SLOTS, type LockJob, type LockResult } from "./protocol.ts";
import type { Status } from "../report/result.ts";

/** Test-only faults planted on purpose, to prove the checks can fail. */
export type StressPlant = "counter" | "write-first" | "page-tag";
/** Every stress plant: "page-tag" is seen by the verify pass alone (the locking loop reads only counters). */
export const STRESS_PLANTS: readonly StressPlant[] = ["counter", "write-first", "page-tag"];

export interface StressOptions {
  readonly mem: MemoryType;
  readonly geometry: StressGeometry;
  readonly bounces: number;
  /** Stress write-protect too (default on: the C had it on until its 6.17 refactor left the flag uninitialised). */
  readonly wp: boolean;
  /** Seconds between deliberate repeat copies that must give EEXIST (the C's 10). 0: at least one per bounce. */
  readonly eexistIntervalS: number;
  readonly plant?: ReadonlySet<StressPlant>;
  readonly pool?: WorkerPool;
  /** A diagnostic line (printed as `# line`). */
  readonly note: (line: string) => void;
  /** Progress for a terminal (bounce done, of total); not called otherwise. */
  readonly progress?: (done: number, total: number, line: string) => void;
  /** Kernel features (probed on a throwaway fd when left out). */
  readonly kernel?: FeatureSet;
  /** Raise nr_hugepages when too few huge pages are free (default true; restored at the end). */
  readonly reserve?: boolean;
}

export interface StressOutcome {
  readonly status: Status;
  /** Skip reason or the first failure. */
  readonly reason?: string;
  readonly totals: { missing: number; wp: number; eexist: number; locks: number; bounces: number };
  readonly seconds: number;
}

const SETTLE_MS = 15_000;

function stressFeatures(mem: MemoryType, wp: boolean, kernel: FeatureSet): FeatureName[] {
  const f: FeatureName[] = [...mem.offers.missing];
  if (wp) {
    f.push(...mem.offers.wp);
    // As the C: WP on unpopulated anon ptes leaves markers, so the second half is protected too.
    if (mem.offers.wpUnpopulated && kernel.has("WP_UNPOPULATED")) f.push("WP_UNPOPULATED");
  }
  return f;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function runStress(opts: StressOptions): Promise<StressOutcome> {
  const started = performance.now();
  const { mem, geometry: g } = opts;
  const totals = { missing: 0, wp: 0, eexist: 0, locks: 0, bounces: 0 };
  const done = (status: StressOutcome["status"], reason?: string): StressOutcome => ({
    status,
    reason,
    totals,
    seconds: (performance.now() - started) / 1000,
  });

  let kernel: FeatureSet;
  try {
    kernel = opts.kernel ?? probeFeatures();
  } catch (e) {
    return done("skip", `userfaultfd unavailable: ${message(e)}`);
  }
  const noMissing = lackingFor(mem, "missing", kernel);
  if (noMissing) return done("skip", noMissing);
  let wp = opts.wp;
  if (wp) {
    const lacking = lackingFor(mem, "wp", kernel);
    if (lacking) {
      opts.note(`write-protect stress off: ${lacking}`);
      wp = false;
    }
  }

  let reservation: SettingChange | undefined;
  if (mem.hugetlb) {
    const need = 2 * g.pages;
    if (opts.reserve === false) {
      const short = hugepageShortage(need);
      if (short) return done("skip", short);
    } else {
      try {
        reservation = reserveHugepages(need);
      } catch (e) {
        return done("skip", `not enough HugeTLB pages: ${message(e)}`);
      }
    }
  }
  try {
    if (reservation) {
      opts.note(`nr_hugepages raised from ${reservation.original} by this run's ${reservation.share} (taken off after it)`);
    }
    opts.note(
      `${g.pages} pages of ${g.pageSize} bytes, ${g.pagesPerGroup} per group, ${g.groups} groups, ` +
        `${opts.bounces} bounces, write-protect ${wp ? "on" : "off"}`,
    );
    return await stressAreas(opts, wp, kernel, totals, done);
  } finally {
    reservation?.dispose();
  }
}

async function stressAreas(
  opts: StressOptions,
  wp: boolean,
  kernel: FeatureSet,
  totals: StressOutcome["totals"],
  done: (status: StressOutcome["status"], reason?: string) => StressOutcome,
): Promise<StressOutcome> {
  const run = StressRun.open(opts, wp, kernel);
  try {
    await run.acquireWorkers();
    for (let bounce = opts.bounces - 1; bounce >= 0; bounce--) {
      const failure = await run.bounce(bounce, totals);
      if (failure) return done("fail", failure);
    }
    totals.eexist = run.eexistDone();
    opts.note(
      `${totals.bounces} bounces: ${totals.missing} missing and ${totals.wp} wp faults served, ` +
        `${totals.locks} locks, ${totals.eexist} repeat copies gave EEXIST`,
    );
    return done("pass");
  } finally {
    run.dispose();
  }
}

/** One run's areas, uffd and Workers; bounce() is one bounce. */
class StressRun {
  readonly #opts: StressOptions;
  readonly #wp: boolean;
  readonly #g: StressGeometry;
  readonly #pool: WorkerPool;
  readonly #bytes: number;
  #src: Area;
  #dst: Area;
  readonly #uffd: Uffd;
  readonly #stopPages: StopPages;
  readonly #lockers: PooledWorker[] = [];
  readonly #copiers: PooledWorker[] = [];
  /** Touches the stop pages of blocking-read handlers. */
  #toucher: PooledWorker | undefined;
  /** Jobs not settled yet: their Workers may still be inside the areas. */
  readonly #inflight = new Map<Promise<unknown>, string>();
  readonly #verify: Float64Array;
  readonly #ctrlBuf = new SharedArrayBuffer(CTRL_SLOTS * 4);
  readonly #ctrl = new Int32Array(this.#ctrlBuf);
  #timer: ReturnType<typeof setInterval> | undefined;
  #planted = false;

  private constructor(opts: StressOptions, wp: boolean, areas: { src: Area; dst: Area; uffd: Uffd; verify: Float64Array }) {
    this.#opts = opts;
    this.#wp = wp;
    this.#g = opts.geometry;
    this.#pool = opts.pool ?? workerPool();
    this.#bytes = opts.geometry.pages * opts.geometry.pageSize;
    this.#src = areas.src;
    this.#dst = areas.dst;
    this.#uffd = areas.uffd;
    this.#verify = areas.verify;
    this.#stopPages = new StopPages(areas.uffd);
    const interval = opts.eexistIntervalS;
    if (interval > 0) this.#timer = setInterval(() => Atomics.store(this.#ctrl, CTRL.eexistDue, 1), interval * 1000);
  }

  static open(opts: StressOptions, wp: boolean, kernel: FeatureSet): StressRun {
    const { mem, geometry: g } = opts;
    const bytes = g.pages * g.pageSize;
    const src = Area.allocate(mem, bytes, { role: "src" });
    let dst: Area | undefined;
    try {
      dst = Area.allocate(mem, bytes, { role: "dst" });
      const verify = new Float64Array(new SharedArrayBuffer(g.pages * 8));
      verify.set(initSourcePages(src.addr, g.pages, g.pageSize));
      // The destination starts empty whatever the source writes did (THP may span both).
      dst.release();
      const uffd = Uffd.create({ features: stressFeatures(mem, wp, kernel) });
      return new StressRun(opts, wp, { src, dst, uffd, verify });
    } catch (e) {
      dst?.dispose();
      src.dispose();
      throw e;
    }
  }

  async acquireWorkers(): Promise<void> {
    const acquire = () => Promise.all(Array.from({ length: this.#g.groups }, () => this.#pool.acquire("stress")));
    this.#lockers.push(...(await acquire()));
    this.#copiers.push(...(await acquire()));
  }

  eexistDone(): number {
    return Atomics.load(this.#ctrl, CTRL.eexistDone);
  }

  /** One bounce of every page from src to dst; the failure, if any. */
  async bounce(bounce: number, totals: StressOutcome["totals"]): Promise<string | undefined> {
    const wp = this.#wp;
    const bytes = this.#bytes;
    const ctrl = this.#ctrl;
    const u = this.#uffd;
    const modes = { missing: true, wp };
    for (const start of this.#views()) u.register({ start, len: bytes }, modes);
    // Pages a racing COPY from the zapped source left behind must go (see the C).
    this.#dst.release();
    Atomics.store(ctrl, CTRL.stop, 0);
    if (this.#opts.eexistIntervalS === 0) Atomics.store(ctrl, CTRL.eexistDue, 1);
    if (bounce & BOUNCE.verify) this.#plant();

    const handlers = await this.#startHandlers((bounce & BOUNCE.poll) !== 0);
    const locking = this.#startLocking(bounce);
    const copying = this.#startCopying();
    const failed = firstRejection([handlers.failed, ...locking, ...copying]);
    try {
      await Promise.race([Promise.all(copying), failed]);
      // Everything is in dst: zap the source at once (handlers still
      // running may COPY from it, and get EEXIST).
      this.#src.release();
      Atomics.store(ctrl, CTRL.stop, 1);
      const locks = await Promise.race([Promise.all(locking), failed]);
      for (const l of locks) totals.locks += l.locks;
      await Promise.race([handlers.stop(), failed]);
    } catch (e) {
      await this.#settleAfterFailure(handlers);
      return message(e);
    }

    if (wp) u.writeProtect({ start: this.#dst.addr, len: bytes }, { wp: false });
    for (const start of this.#views()) u.unregister({ start, len: bytes });
    if (bounce & BOUNCE.verify) {
      const bad = verifyPages(this.#dst.addr, this.#g.pages, this.#g.pageSize, this.#verify);
      if (bad) return `verify after bounce ${bounce} (${bounceModeLabel(bounce)}): ${bad}`;
    }
    [this.#src, this.#dst] = [this.#dst, this.#src];
    this.#report(bounce, handlers, totals);
    return undefined;
  }

  /** The destination's views: one, or two where it has an alias. */
  #views(): number[] {
    return [...new Set([this.#dst.addr, this.#dst.alias])];
  }

  #track<T>(p: Promise<T>, what: string): Promise<T> {
    this.#inflight.set(p, what);
    const drop = () => this.#inflight.delete(p);
    p.then(drop, drop);
    return p;
  }

  /** Our jobs are not in the harness's Job union; the pool only forwards them. */
  #run<T>(w: PooledWorker, job: unknown, timeoutMs?: number): Promise<T> {
    return this.#track(w.run<T>(job as Job, { timeoutMs }), (job as { type: string }).type);
  }

  /** Test only: one source page made wrong, once per run (the bounce verifies). */
  #plant(): void {
    const plant = this.#opts.plant;
    if (this.#planted || !plant) return;
    const { pages, pageSize } = this.#g;
    const page = pages >>> 1;
    const words = new Uint32Array(toArrayBufferAt(this.#src.addr, this.#bytes));
    if (plant.has("counter")) {
      // One page of the source gets a counter the verification array does not expect.
      this.#planted = true;
      words[(page * pageSize + COUNT_OFFSET) >>> 2]! += 1;
      this.#opts.note(`planted a wrong counter in page ${page} (test hook)`);
    } else if (plant.has("page-tag")) {
      // One source page says it is the next one; only the verify pass reads tags.
      this.#planted = true;
      words[(page * pageSize + TAG_OFFSET) >>> 2] = page + 1;
      this.#opts.note(`planted page ${page + 1}'s tag in page ${page} (test hook)`);
    }
  }

  async #startHandlers(poll: boolean): Promise<Handlers> {
    const src = this.#src;
    const dst = this.#dst;
    const handlers = await Handlers.start({
      uffd: this.#uffd,
      pool: this.#pool,
      count: this.#g.groups,
      mode: poll ? "poll" : "read",
      stopPages: this.#stopPages,
      touchStop: async (job, timeoutMs) => {
        this.#toucher ??= await this.#pool.acquire("toucher");
        return this.#run<TouchResult>(this.#toucher, { type: "touch", ...job }, timeoutMs);
      },
      serve: {
        strategy: "copy",
        dst: dst.addr,
        dstAlias: dst.alias,
        src: src.addr,
        size: this.#bytes,
        pageSize: this.#g.pageSize,
        applyWp: this.#wp,
        forbidWriteMissing: true,
        onFork: "close",
      },
    });
    for (const p of handlers.serving) this.#track(p, "serve");
    return handlers;
  }

  #startLocking(bounce: number): Promise<LockResult>[] {
    const g = this.#g;
    return this.#lockers.map((w, group) =>
      this.#run<LockResult>(w, {
        type: "stress-lock",
        dst: this.#dst.addr,
        pages: g.pages,
        pageSize: g.pageSize,
        countOffset: COUNT_OFFSET,
        random: (bounce & BOUNCE.random) !== 0,
        rng: "getrandom",
        firstPage: firstSequentialPage(bounce, group, g.pagesPerGroup, g.pages),
        verify: this.#verify.buffer as SharedArrayBuffer,
        ctrl: this.#ctrlBuf,
        writeFirst: this.#opts.plant?.has("write-first") ?? false,
      } satisfies LockJob),
    );
  }

  #startCopying(): Promise<CopyResult>[] {
    const g = this.#g;
    return this.#copiers.map((w, group) =>
      this.#run<CopyResult>(w, {
        type: "stress-copy",
        uffdFd: this.#uffd.fd,
        dst: this.#dst.addr,
        dstAlias: this.#dst.alias,
        src: this.#src.addr,
        pageSize: g.pageSize,
        startPage: group * g.pagesPerGroup,
        endPage: (group + 1) * g.pagesPerGroup,
        wp: this.#wp,
        ctrl: this.#ctrlBuf,
      } satisfies CopyJob),
    );
  }

  /** A bounce failed: release every Worker still inside the areas, waiting a bounded time. */
  async #settleAfterFailure(handlers: Handlers): Promise<void> {
    const ctrl = this.#ctrl;
    Atomics.store(ctrl, CTRL.failed, 1);
    Atomics.store(ctrl, CTRL.stop, 1);
    const u = this.#uffd;
    const bytes = this.#bytes;
    // Unregistering wakes every thread waiting in a fault on dst: with a
    // handler gone they would wait forever. They retry as ordinary faults.
    const views = this.#views();
    for (const start of views) {
      try {
        u.unregister({ start, len: bytes });
      } catch (err) {
        this.#opts.note(`unregister after the failure: ${message(err)}`);
      }
    }
    if (this.#opts.mem.hugetlb) {
      // A woken thread retries as an ordinary fault, and on hugetlb that
      // needs a free huge page the shared pool may not have (MAP_NORESERVE
      // destination): anonymous memory in place of the views cannot fail.
      for (const start of views) {
        try {
          mmap(bytes, { addr: start, flags: MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED | MAP.NORESERVE });
        } catch {
          // keep the view: the wake-ups below still apply
        }
      }
    }
    // A fault racing the unregister can still queue on this uffd after its
    // wake-up (seen on hugetlb): UFFDIO_WAKE needs no registration, so
    // keep waking the views until everything has settled.
    const waker = setInterval(() => {
      for (const start of views) u.tryWake(start, bytes);
    }, 10);
    try {
      await handlers.abandon(SETTLE_MS);
      if (!(await within(Promise.allSettled([...this.#inflight.keys()]), SETTLE_MS))) {
        this.#opts.note(`still running after the failure: ${[...this.#inflight.values()].join(", ")} (their memory is left mapped)`);
      }
    } finally {
      clearInterval(waker);
    }
  }

  #report(bounce: number, handlers: Handlers, totals: StressOutcome["totals"]): void {
    const counters = handlers.counters;
    totals.missing += counters.total("missing");
    totals.wp += counters.total("wp");
    totals.bounces++;
    const stats = statsLine(counters).replace(/^userfaults:\s*/, "");
    const line = `bounce ${bounce} ${bounceModeLabel(bounce)}: userfaults ${stats || "0"}`;
    this.#opts.note(line);
    this.#opts.progress?.(this.#opts.bounces - bounce, this.#opts.bounces, line);
  }

  /** Workers back, uffd closed; the areas unmapped unless a Worker may still be inside them. */
  dispose(): void {
    if (this.#timer) clearInterval(this.#timer);
    for (const w of [...this.#lockers, ...this.#copiers]) this.#pool.release(w);
    if (this.#toucher) this.#pool.release(this.#toucher);
    this.#uffd.close();
    if (this.#inflight.size > 0) return; // leaking them is the safe choice
    this.#stopPages.dispose();
    this.#src.dispose();
    this.#dst.dispose();
  }
}
