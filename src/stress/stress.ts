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
import { Handlers, type StopToucher, StopPages } from "../harness/handlers.ts";
import { hugepageShortage, reserveHugepages } from "../harness/hugetlb.ts";
import { Area, type MemoryType } from "../harness/memory.ts";
import { type PooledWorker, type WorkerPool, workerPool } from "../harness/pool.ts";
import type { Job, TouchResult } from "../harness/protocol.ts";
import type { SettingChange } from "../harness/restore.ts";
import { COUNT_OFFSET, initSourcePages, TAG_OFFSET } from "../harness/source.ts";
import { firstRejection, within } from "../harness/settle.ts";
import { MAP, mmap, toArrayBufferAt } from "../sys/mem.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import type { FeatureName } from "../uffd/constants.ts";
import { probeFeatures, Uffd } from "../uffd/uffd.ts";
import type { StressGeometry } from "./geometry.ts";
import { firstSequentialPage, verifyPages } from "./verify.ts";
import { BOUNCE, bounceModeLabel, type CopyJob, type CopyResult, CTRL, CTRL_SLOTS, type LockJob, type LockResult } from "./protocol.ts";

/** Test-only faults planted on purpose, to prove the checks can fail. */
export type StressPlant = "counter" | "write-first" | "page-tag";
/** Every stress plant: "page-tag" is seen by the verify pass alone (the locking loop reads only counters). */
export const STRESS_PLANTS: readonly StressPlant[] = ["counter", "write-first", "page-tag"];

export interface StressOptions {
  readonly mem: MemoryType;
  readonly geometry: StressGeometry;
  readonly bounces: number;
  /** Stress write-protect too (default on; SPEC §3). */
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
  readonly status: "pass" | "fail" | "skip";
  /** Skip reason or the first failure. */
  readonly reason?: string;
  readonly totals: { missing: number; wp: number; eexist: number; locks: number; bounces: number };
  readonly seconds: number;
}

const SETTLE_MS = 15_000;

function featuresFor(mem: MemoryType, wp: boolean, kernel: FeatureSet): FeatureName[] {
  const f: FeatureName[] = [];
  if (mem.missingFeature) f.push(mem.missingFeature);
  if (wp) {
    f.push("PAGEFAULT_FLAG_WP");
    if (mem.wpFeature) f.push(mem.wpFeature);
    // As the C: WP on unpopulated anon ptes leaves markers, so the second half is protected too.
    if (!mem.fileBacked && kernel.has("WP_UNPOPULATED")) f.push("WP_UNPOPULATED");
  }
  return f;
}

/** Why write-protect cannot be stressed on this memory type here, or undefined. */
function wpLacking(mem: MemoryType, kernel: FeatureSet): string | undefined {
  const need: FeatureName[] = ["PAGEFAULT_FLAG_WP"];
  if (mem.wpFeature) need.push(mem.wpFeature);
  const missing = kernel.missing(need);
  return missing.length > 0 ? `feature missing: ${missing.join(", ")}` : undefined;
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
  if (mem.missingFeature && !kernel.has(mem.missingFeature)) return done("skip", `feature missing: ${mem.missingFeature}`);
  let wp = opts.wp;
  if (wp) {
    const lacking = wpLacking(mem, kernel);
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
  /** Touches the stop pages of blocking-read handlers. */
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
  let uffd: Uffd | undefined;
  let stopPages: StopPages | undefined;
  const workers: Workers = { lockers: [], copiers: [] };
  // Jobs not settled yet: their Workers may still be inside the areas.
  const inflight = new Map<Promise<unknown>, string>();
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    const verify = new Float64Array(new SharedArrayBuffer(g.pages * 8));
    verify.set(initSourcePages(src.addr, g.pages, g.pageSize));
    // The destination starts empty whatever the source writes did (THP may span both).
    dst.release();
    uffd = Uffd.create({ features: featuresFor(mem, wp, kernel) });
    stopPages = new StopPages(uffd);

    const acquire = () => Promise.all(Array.from({ length: g.groups }, () => pool.acquire("stress")));
    workers.lockers.push(...(await acquire()));
    workers.copiers.push(...(await acquire()));

    const ctrlBuf = new SharedArrayBuffer(CTRL_SLOTS * 4);
    const ctrl = new Int32Array(ctrlBuf);
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
    const touchStop: StopToucher = async (job, timeoutMs) => {
      workers.toucher ??= await pool.acquire("toucher");
      return run<TouchResult>(workers.toucher, { type: "touch", ...job }, timeoutMs);
    };

    for (let bounce = opts.bounces - 1; bounce >= 0; bounce--) {
      const poll = (bounce & BOUNCE.poll) !== 0;
      const u = uffd;
      const modes = { missing: true, wp };
      u.register({ start: dst.addr, len: bytes }, modes);
      if (dst.alias !== dst.addr) u.register({ start: dst.alias, len: bytes }, modes);
      // Pages a racing COPY from the zapped source left behind must go (see the C).
      dst.release();
      Atomics.store(ctrl, CTRL.stop, 0);
      if (interval === 0) Atomics.store(ctrl, CTRL.eexistDue, 1);

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

      const handlers = await Handlers.start({
        uffd: u, pool, count: g.groups, mode: poll ? "poll" : "read", stopPages, touchStop,
        serve: {
          strategy: "copy", dst: dst.addr, dstAlias: dst.alias, src: src.addr, size: bytes, pageSize: g.pageSize,
          applyWp: wp, forbidWriteMissing: true, onFork: "close",
        },
      });
      for (const p of handlers.serving) track(p, "serve");
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
      const failed = firstRejection([handlers.failed, ...locking, ...copying]);

      try {
        await Promise.race([Promise.all(copying), failed]);
        // Everything is in dst: zap the source at once (handlers still
        // running may COPY from it, and get EEXIST).
        src.release();
        Atomics.store(ctrl, CTRL.stop, 1);
        const locks = await Promise.race([Promise.all(locking), failed]);
        for (const l of locks) totals.locks += l.locks;
        await Promise.race([handlers.stop(), failed]);
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
          await handlers.abandon(SETTLE_MS);
          if (!(await within(Promise.allSettled([...inflight.keys()]), SETTLE_MS))) {
            opts.note(`still running after the failure: ${[...inflight.values()].join(", ")} (their memory is left mapped)`);
          }
        } finally {
          clearInterval(waker);
        }
        return done("fail", message(e));
      }

      if (wp) u.writeProtect({ start: dst.addr, len: bytes }, { wp: false });
      u.unregister({ start: dst.addr, len: bytes });
      if (dst.alias !== dst.addr) u.unregister({ start: dst.alias, len: bytes });

      if (bounce & BOUNCE.verify) {
        const bad = verifyPages(dst.addr, g.pages, g.pageSize, verify);
        if (bad) return done("fail", `verify after bounce ${bounce} (${bounceModeLabel(bounce)}): ${bad}`);
      }
      [src, dst] = [dst, src];

      const counters = handlers.counters;
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
    for (const w of [...workers.lockers, ...workers.copiers]) pool.release(w);
    if (workers.toucher) pool.release(workers.toucher);
    uffd?.close();
    if (inflight.size === 0) {
      stopPages?.dispose();
      src.dispose();
      dst.dispose();
    }
    // else: a Worker is still inside the areas; leaking them is the safe choice.
  }
}
