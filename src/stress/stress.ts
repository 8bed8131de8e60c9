// uffd-stress, rebuilt: bounce the pages of an area between two mappings
// through userfaultfd while locking threads hammer them (uffd-stress.c).
//
// Per group (min(CPUs, 32) of them) three pooled Workers: a locking loop, a
// fault handler (serve.ts) and a background copier. This thread only
// orchestrates: it registers, releases, verifies unregistered memory, and
// never touches registered memory nor serves the uffd. Workers are acquired
// once per run and get one job per bounce; during a bounce they are steered
// through Atomics on a SharedArrayBuffer.
import { HandlerCounters, statsLine } from "../harness/counters.ts";
import { hugepageShortage, reserveHugepages } from "../machine/hugepages.ts";
import { Area, lackingFor, type MemoryType } from "../harness/memory.ts";
import { type PooledWorker, type WorkerPool, workerPool } from "../harness/pool.ts";
import type { Job, ServeJob, ServeResult, TouchResult } from "../harness/protocol.ts";
import type { SettingChange } from "../machine/restore.ts";
import { COUNT_OFFSET, initSourcePages, TAG_OFFSET } from "../harness/source.ts";
import { close, pipe, writeByte } from "../sys/fd.ts";
import { MADV, madvise, MAP, mmap, munmap, PAGE_SIZE, toArrayBufferAt } from "../sys/mem.ts";
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

/** Ends a bounce early; its message is the run's failure. */
class StressFailure extends Error {
  override readonly name = "StressFailure";
}

const SETTLE_MS = 15_000;

function featuresFor(mem: MemoryType, wp: boolean, kernel: FeatureSet): FeatureName[] {
  const f: FeatureName[] = [...mem.offers.missing];
  if (wp) {
    f.push(...mem.offers.wp);
    // As the C: WP on unpopulated anon ptes leaves markers, so the second half is protected too.
    if (mem.offers.wpUnpopulated && kernel.has("WP_UNPOPULATED")) f.push("WP_UNPOPULATED");
  }
  return f;
}

/** Settle `p` or give up after `ms` (a Worker stuck in the kernel never replies). */
async function within<T>(p: Promise<T>, ms: number): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([
      p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects with the first rejection among `ps` (never resolves). */
function firstRejection(ps: readonly Promise<unknown>[]): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    for (const x of ps) x.catch(reject);
  });
  p.catch(() => {});
  return p;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function runStress(opts: StressOptions): Promise<StressOutcome> {
  const started = performance.now();
  const { mem, geometry: g } = opts;
  const totals = { missing: 0, wp: 0, eexist: 0, locks: 0, bounces: 0 };
  const done = (status: StressOutcome["status"], reason?: string): StressOutcome => ({
    status, reason, totals, seconds: (performance.now() - started) / 1000,
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

interface Workers {
  readonly lockers: PooledWorker[];
  readonly copiers: PooledWorker[];
  readonly handlers: PooledWorker[];
  toucher?: PooledWorker;
}

async function stressAreas(
  opts: StressOptions,
  wp: boolean,
  kernel: FeatureSet,
  totals: StressOutcome["totals"],
  done: (status: StressOutcome["status"], reason?: string) => StressOutcome,
): Promise<StressOutcome> {
  const { mem, geometry: g } = opts;
  const pool = opts.pool ?? workerPool();
  const bytes = g.pages * g.pageSize;
  let src = Area.allocate(mem, bytes, { role: "src" });
  let dst: Area;
  try {
    dst = Area.allocate(mem, bytes, { role: "dst" });
  } catch (e) {
    src.dispose();
    throw e;
  }
  // Stop pages for blocking-read handlers: a fault on one tells the handler that takes it to return.
  const stopLen = g.groups * PAGE_SIZE;
  const stopAddr = mmap(stopLen);
  let uffd: Uffd | undefined;
  const workers: Workers = { lockers: [], copiers: [], handlers: [] };
  // Jobs not settled yet: their Workers may still be inside the areas.
  const inflight = new Map<Promise<unknown>, string>();
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    const verify = new Float64Array(new SharedArrayBuffer(g.pages * 8));
    verify.set(initSourcePages(src.addr, g.pages, g.pageSize));
    // The destination starts empty whatever the source writes did (THP may span both).
    dst.release();
    uffd = Uffd.create({ features: featuresFor(mem, wp, kernel) });
    uffd.register({ start: stopAddr, len: stopLen }, { missing: true });

    const acquire = (kind: "stress" | "handler") => Promise.all(Array.from({ length: g.groups }, () => pool.acquire(kind)));
    workers.lockers.push(...(await acquire("stress")));
    workers.copiers.push(...(await acquire("stress")));
    workers.handlers.push(...(await acquire("handler")));

    const ctrlBuf = new SharedArrayBuffer(CTRL_SLOTS * 4);
    const ctrl = new Int32Array(ctrlBuf);
    const counters = new HandlerCounters(g.groups);
    const interval = opts.eexistIntervalS;
    if (interval > 0) timer = setInterval(() => Atomics.store(ctrl, CTRL.eexistDue, 1), interval * 1000);
    const plant = opts.plant ?? new Set<StressPlant>();
    let planted = false;

    const track = <T>(p: Promise<T>, what: string): Promise<T> => {
      inflight.set(p, what);
      const drop = () => inflight.delete(p);
      p.then(drop, drop);
      return p;
    };
    // Our jobs are not in the harness's Job union; the pool only forwards them.
    const run = <T>(w: PooledWorker, job: unknown, timeoutMs?: number): Promise<T> =>
      track(w.run<T>(job as Job, { timeoutMs }), (job as { type: string }).type);

    for (let bounce = opts.bounces - 1; bounce >= 0; bounce--) {
      const poll = (bounce & BOUNCE.poll) !== 0;
      const u = uffd;
      u.setNonBlocking(poll);
      const modes = { missing: true, wp };
      u.register({ start: dst.addr, len: bytes }, modes);
      if (dst.alias !== dst.addr) u.register({ start: dst.alias, len: bytes }, modes);
      // Pages a racing COPY from the zapped source left behind must go (see the C).
      dst.release();
      counters.reset();
      Atomics.store(ctrl, CTRL.stop, 0);
      if (interval === 0) Atomics.store(ctrl, CTRL.eexistDue, 1);
      if (!poll) madvise(stopAddr, stopLen, MADV.DONTNEED);

      if (plant.has("counter") && !planted && bounce & BOUNCE.verify) {
        // Test-only: one page of the source gets a counter the verification array does not expect.
        planted = true;
        const page = g.pages >>> 1;
        const words = new Uint32Array(toArrayBufferAt(src.addr, bytes));
        words[(page * g.pageSize + COUNT_OFFSET) >>> 2]! += 1;
        opts.note(`planted a wrong counter in page ${page} (test hook)`);
      }
      if (plant.has("page-tag") && !planted && bounce & BOUNCE.verify) {
        // Test-only: one source page says it is the next one; only the verify pass reads tags.
        planted = true;
        const page = g.pages >>> 1;
        const words = new Uint32Array(toArrayBufferAt(src.addr, bytes));
        words[(page * g.pageSize + TAG_OFFSET) >>> 2] = page + 1;
        opts.note(`planted page ${page + 1}'s tag in page ${page} (test hook)`);
      }

      const pipes = poll ? Array.from({ length: g.groups }, () => pipe()) : [];
      const serving = workers.handlers.map((w, slot) =>
        run<ServeResult>(w, {
          type: "serve",
          uffdFd: u.fd,
          featuresHex: u.enabled.mask.toString(16),
          stopFd: poll ? pipes[slot]![0] : -1,
          mode: poll ? "poll" : "read",
          strategy: "copy",
          dst: dst.addr,
          dstAlias: dst.alias,
          src: src.addr,
          size: bytes,
          pageSize: g.pageSize,
          applyWp: wp,
          forbidWriteMissing: true,
          stopPages: poll ? undefined : { start: stopAddr, len: stopLen },
          onFork: "close",
          counters: counters.buffer,
          slot,
        } satisfies ServeJob),
      );
      const locking = workers.lockers.map((w, group) =>
        run<LockResult>(w, {
          type: "stress-lock",
          dst: dst.addr,
          pages: g.pages,
          pageSize: g.pageSize,
          countOffset: COUNT_OFFSET,
          random: (bounce & BOUNCE.random) !== 0,
          rng: "getrandom",
          firstPage: firstSequentialPage(bounce, group, g.pagesPerGroup, g.pages),
          verify: verify.buffer as SharedArrayBuffer,
          ctrl: ctrlBuf,
          writeFirst: plant.has("write-first"),
        } satisfies LockJob),
      );
      const copying = workers.copiers.map((w, group) =>
        run<CopyResult>(w, {
          type: "stress-copy",
          uffdFd: u.fd,
          dst: dst.addr,
          dstAlias: dst.alias,
          src: src.addr,
          pageSize: g.pageSize,
          startPage: group * g.pagesPerGroup,
          endPage: (group + 1) * g.pagesPerGroup,
          wp,
          ctrl: ctrlBuf,
        } satisfies CopyJob),
      );
      const failed = firstRejection([...serving, ...locking, ...copying]);
      const live = new Set(serving);
      for (const p of serving) {
        const drop = () => live.delete(p);
        p.then(drop, drop);
      }
      const stop = (timeoutMs?: number) => stopHandlers(poll ? pipes : undefined, live.size, stopAddr, workers, pool, run, timeoutMs);

      try {
        await Promise.race([Promise.all(copying), failed]);
        // Everything is in dst: zap the source at once (handlers still
        // running may COPY from it, and get EEXIST).
        src.release();
        Atomics.store(ctrl, CTRL.stop, 1);
        const locks = await Promise.race([Promise.all(locking), failed]);
        for (const l of locks) totals.locks += l.locks;
        await Promise.race([stop(), failed]);
        await Promise.race([Promise.all(serving), failed]);
      } catch (e) {
        Atomics.store(ctrl, CTRL.failed, 1);
        Atomics.store(ctrl, CTRL.stop, 1);
        // Unregistering wakes every thread waiting in a fault on dst: with a
        // handler gone they would wait forever. They retry as ordinary faults.
        const views = [...new Set([dst.addr, dst.alias])];
        for (const start of views) {
          try {
            u.unregister({ start, len: bytes });
          } catch (err) {
            opts.note(`unregister after the failure: ${message(err)}`);
          }
        }
        if (mem.hugetlb) {
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
          const stopping = stop(SETTLE_MS).catch(() => {});
          await within(Promise.allSettled(serving), SETTLE_MS);
          if (!poll) {
            // Every handler has returned (or never will): a stop fault that no
            // handler is left to read must not hold the toucher. Unregistered,
            // the stop pages fault in as ordinary memory.
            try {
              u.unregister({ start: stopAddr, len: stopLen });
            } catch {
              // gone already
            }
            u.tryWake(stopAddr, stopLen);
          }
          await within(stopping, SETTLE_MS);
          if (!(await within(Promise.allSettled([...inflight.keys()]), SETTLE_MS))) {
            opts.note(`still running after the failure: ${[...inflight.values()].join(", ")} (their memory is left mapped)`);
          }
        } finally {
          clearInterval(waker);
        }
        return done("fail", message(e));
      } finally {
        for (const [r, w] of pipes) {
          close(r);
          close(w);
        }
      }

      if (wp) u.writeProtect({ start: dst.addr, len: bytes }, { wp: false });
      u.unregister({ start: dst.addr, len: bytes });
      if (dst.alias !== dst.addr) u.unregister({ start: dst.alias, len: bytes });

      if (bounce & BOUNCE.verify) {
        const bad = verifyPages(dst.addr, g.pages, g.pageSize, verify);
        if (bad) return done("fail", `verify after bounce ${bounce} (${bounceModeLabel(bounce)}): ${bad}`);
      }
      [src, dst] = [dst, src];

      const missing = counters.total("missing");
      const wpFaults = counters.total("wp");
      totals.missing += missing;
      totals.wp += wpFaults;
      totals.bounces++;
      const stats = statsLine(counters).replace(/^userfaults:\s*/, "");
      const line = `bounce ${bounce} ${bounceModeLabel(bounce)}: userfaults ${stats || "0"}`;
      opts.note(line);
      opts.progress?.(opts.bounces - bounce, opts.bounces, line);
    }
    totals.eexist = Atomics.load(ctrl, CTRL.eexistDone);
    opts.note(
      `${totals.bounces} bounces: ${totals.missing} missing and ${totals.wp} wp faults served, ` +
        `${totals.locks} locks, ${totals.eexist} repeat copies gave EEXIST`,
    );
    return done("pass");
  } finally {
    if (timer) clearInterval(timer);
    for (const w of [...workers.lockers, ...workers.copiers, ...workers.handlers]) pool.release(w);
    if (workers.toucher) pool.release(workers.toucher);
    uffd?.close();
    if (inflight.size === 0) {
      munmap(stopAddr, stopLen);
      src.dispose();
      dst.dispose();
    }
    // else: a Worker is still inside the areas; leaking them is the safe choice.
  }
}

/**
 * Stop the handlers: a byte down each stop pipe (poll), or a fault on one
 * stop page per live handler, one after another (blocking read): each fault
 * is read by exactly one handler, which resolves it and returns.
 */
async function stopHandlers(
  pipes: readonly [number, number][] | undefined,
  live: number,
  stopAddr: number,
  workers: Workers,
  pool: WorkerPool,
  run: <T>(w: PooledWorker, job: unknown, timeoutMs?: number) => Promise<T>,
  timeoutMs?: number,
): Promise<void> {
  if (pipes) {
    for (const [, w] of pipes) writeByte(w);
    return;
  }
  if (live === 0) return;
  workers.toucher ??= await pool.acquire("toucher");
  const r = await run<TouchResult>(
    workers.toucher,
    { type: "touch", start: stopAddr, pages: live, pageSize: PAGE_SIZE, op: "read" },
    timeoutMs,
  );
  if (r.touched !== live) throw new StressFailure(`stop pages touched ${r.touched} of ${live}`);
}

