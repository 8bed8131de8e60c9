// Native helpers against the real kernel: children that run only C, their
// signals, the in-process SIGBUS probe, and forks under EVENT_FORK with the
// fork events (and a child's faults) served by a Worker.
import { afterAll, describe, expect, test } from "bun:test";
import { Area, MEMORY } from "../src/harness/memory.ts";
import { Errno, lastErrno } from "../src/sys/errno.ts";
import { close, ftruncate, memfdCreate, MFD, pipe, writeByte } from "../src/sys/index.ts";
import { libc } from "../src/sys/libc.ts";
import { bytesAt, MAP, mmap, munmap, PAGE_SIZE, PROT } from "../src/sys/mem.ts";
import {
  CHILD_EXIT,
  ChildFailedError,
  childCountSigbus,
  childPagemap,
  childTouch,
  childZapPagemap,
  decodePagemap,
  describeStatus,
  forkChild,
  loadNative,
  NativeCompileError,
  nativeCompileTimes,
  nativeRoutine,
  Pagemap,
  PAGEMAP,
  probeSigbus,
  runChild,
  tryReap,
  waitChild,
} from "../src/sys/native.ts";
import { type FeatureSet, probeFeatures, Uffd } from "../src/uffd/index.ts";
import type { FeatureName } from "../src/uffd/constants.ts";
import type { ForkHandlerInit } from "./workers/native-fork-handler.ts";
import { SLOT, SLOT_COUNT } from "./workers/native-fork-slots.ts";

const P = PAGE_SIZE;
const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.log(figures.map((f) => `# ${f}`).join("\n"));
});

function uffdFeatures(): FeatureSet | undefined {
  try {
    return probeFeatures();
  } catch {
    return undefined; // no userfaultfd here: the uffd tests skip
  }
}
const features = uffdFeatures();
const has = (...f: FeatureName[]) => features !== undefined && f.every((x) => features.has(x));

/** A memfd one page long mapped shared over two pages: the second lies past EOF. */
function pastEof(): { addr: number; dispose(): void } {
  const fd = memfdCreate("native-test", MFD.CLOEXEC);
  ftruncate(fd, P);
  const addr = mmap(2 * P, { flags: MAP.SHARED, fd });
  close(fd);
  return { addr, dispose: () => munmap(addr, 2 * P) };
}

describe("compile", () => {
  test("built-in units compile once per thread, and the time is recorded", async () => {
    expect((await runChild("exit", { code: 0 })).status).toEqual({ kind: "exited", code: 0 });
    probeSigbus(mmap(P));
    // Other test files may share this process (and compile units of their own).
    const ours = () => nativeCompileTimes().filter((t) => t.name === "child" || t.name === "probe");
    expect(
      ours()
        .map((t) => t.name)
        .sort(),
    ).toEqual(["child", "probe"]);
    for (const t of ours()) {
      expect(t.compileMs).toBeGreaterThan(0);
      figures.push(`cc() compile of ${t.name}.c: ${t.compileMs.toFixed(1)} ms`);
    }
    await runChild("exit", { code: 0 });
    probeSigbus(mmap(P));
    expect(ours().length).toBe(2);
  });

  test("a unit of one's own: a routine run in a child, reporting through the pipe", async () => {
    const src = `
      int sum_child(const u64 *a) {
        u64 s = a[1] + a[2];
        if (write((int)(s64)a[0], &s, 8) != 8) return 9;
        return (int)a[3];
      }
      int twice(int x) { return 2 * x; }`;
    const mine = loadNative("test-sum", src, {
      sum_child: { args: ["ptr"], returns: "i32" },
      twice: { args: ["i32"], returns: "i32" },
    });
    expect(mine().symbols.twice(21)).toBe(42);
    const run = await runChild(nativeRoutine("sum", mine().symbols.sum_child), [40, 2, 7]);
    expect(run.status).toEqual({ kind: "exited", code: 7 });
    expect(run.report).toEqual([42n]);
  });

  test("a compile error names the unit and the line", () => {
    const bad = loadNative("test-bad", "int f(void) {\n  return nope;\n}\n", { f: { args: [], returns: "i32" } });
    expect(() => bad()).toThrow(NativeCompileError);
    expect(() => bad()).toThrow(/test-bad\.c:2/);
  });
});

test("a Worker compiles its own units and probes and forks from its thread", async () => {
  const worker = new Worker(new URL("./workers/native-in-worker.ts", import.meta.url));
  try {
    const got = await new Promise<Record<string, unknown>>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage(null);
    });
    expect(got).toEqual({
      ok: true,
      probes: [false, true],
      status: { kind: "signaled", signal: 7, name: "SIGBUS", coreDumped: false },
      compiled: ["probe", "child"],
    });
  } finally {
    worker.terminate();
  }
});

describe("children on plain memory", () => {
  test("exit code passes through", async () => {
    const pid = forkChild("exit", { code: 42 });
    expect(await waitChild(pid)).toEqual({ kind: "exited", code: 42 });
  });

  test("touch checks every byte, one byte, or a counter per page", async () => {
    const addr = mmap(4 * P);
    try {
      const bytes = bytesAt(addr, 4 * P);
      bytes.fill(0x5a);
      expect(await childTouch({ addr, len: 4 * P, check: { kind: "fill", expect: 0x5a } })).toEqual({
        status: { kind: "exited", code: 0 },
        pages: 4,
        mismatches: 0,
      });
      bytes[2 * P + 100] = 1;
      const bad = await childTouch({ addr, len: 4 * P, check: { kind: "fill", expect: 0x5a } });
      expect(bad.status).toEqual({ kind: "exited", code: CHILD_EXIT.MISMATCH });
      expect(bad.mismatches).toBe(1);
      expect(bad.firstBad).toEqual({ page: 2, value: 1n });
      expect((await childTouch({ addr, len: 4 * P, check: { kind: "byte", offset: 99, expect: 0x5a } })).mismatches).toBe(0);
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      for (let i = 0; i < 4; i++) view.setBigUint64(i * P + 40, BigInt(i + 1), true);
      const counters = { kind: "u64", offset: 40, perPage: [1n, 2n, 3n, 4n] } as const;
      expect((await childTouch({ addr, len: 4 * P, access: "rewrite", offset: 40, check: counters })).mismatches).toBe(0);
      const off = await childTouch({ addr, len: 4 * P, check: { ...counters, perPage: [1n, 2n, 9n, 4n] } });
      expect(off.firstBad).toEqual({ page: 2, value: 3n });
    } finally {
      munmap(addr, 4 * P);
    }
  });

  test("a child's writes stay in the child", async () => {
    const addr = mmap(2 * P);
    try {
      bytesAt(addr, 2 * P).fill(7);
      const r = await childTouch({ addr, len: 2 * P, access: "write", value: 9 });
      expect(r.status).toEqual({ kind: "exited", code: 0 });
      expect(bytesAt(addr, 2 * P).every((b) => b === 7)).toBe(true);
    } finally {
      munmap(addr, 2 * P);
    }
  });

  test("pagemap and zap in the child", async () => {
    const addr = mmap(2 * P);
    try {
      bytesAt(addr, 1)[0] = 1;
      expect(decodePagemap(await childPagemap(addr)).present).toBe(true);
      expect(decodePagemap(await childPagemap(addr + P)).present).toBe(false);
      const z = await childZapPagemap({ addr, len: P });
      expect(decodePagemap(z.before).present).toBe(true);
      expect(decodePagemap(z.after).present).toBe(false);
      // The zap happened in the child only.
      using pm = new Pagemap();
      expect(decodePagemap(pm.entry(addr)).present).toBe(true);
    } finally {
      munmap(addr, 2 * P);
    }
  });

  test("count-sigbus: none on plain memory, the page past EOF, with a bitmap", async () => {
    const addr = mmap(8 * P);
    const eof = pastEof();
    try {
      const plain = await childCountSigbus({ addr, len: 8 * P });
      expect([plain.count, plain.pages]).toEqual([0, 8]);
      const r = await childCountSigbus({ addr: eof.addr, len: 2 * P, access: "write" });
      expect([r.count, r.pages, r.signalled(0), r.signalled(1), r.signalled(2)]).toEqual([1, 2, false, true, undefined]);
    } finally {
      munmap(addr, 8 * P);
      eof.dispose();
    }
  });

  test("a failing routine is a ChildFailedError that says why", async () => {
    const none = mmap(P, { prot: PROT.NONE });
    try {
      const err = await childPagemap(0).then(
        () => undefined,
        (e: unknown) => e,
      );
      // Entry 0 is readable; the routine works even for address 0.
      expect(err).toBeUndefined();
      const e2 = await childCountSigbus({ addr: none, len: P }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(e2).toBeInstanceOf(ChildFailedError);
      expect(String(e2)).toContain("killed by SIGSEGV");
    } finally {
      munmap(none, P);
    }
  });
});

describe("children that die by a signal", () => {
  test("PROT_NONE touch: SIGSEGV, by name", async () => {
    const addr = mmap(P, { prot: PROT.NONE });
    try {
      const r = await runChild("touch", { addr, len: P });
      expect(r.status).toEqual({ kind: "signaled", signal: 11, name: "SIGSEGV", coreDumped: false });
    } finally {
      munmap(addr, P);
    }
  });

  test("beyond-EOF memfd touch: SIGBUS, by name (read and write)", async () => {
    const eof = pastEof();
    try {
      for (const access of ["read", "write"] as const) {
        const r = await runChild("touch", { addr: eof.addr, len: 2 * P, access });
        expect(r.status).toEqual({ kind: "signaled", signal: 7, name: "SIGBUS", coreDumped: false });
      }
    } finally {
      eof.dispose();
    }
  });

  test("timeout kills a sleeping child and reaps it", async () => {
    const pid = forkChild("sleep", { ms: 60_000 });
    const t0 = performance.now();
    const s = await waitChild(pid, { timeoutMs: 150 });
    const took = performance.now() - t0;
    expect(s).toMatchObject({ kind: "timeout", timeoutMs: 150 });
    // Where it was before the kill, from its kernel stack (root) or wchan: a sleep.
    if (s.kind !== "timeout") throw new Error("unreachable");
    expect(s.blocked).toMatch(/^blocked in \w*nanosleep/);
    expect(describeStatus(s)).toMatch(/^still running after 150 ms \(killed\); it was blocked in \w*nanosleep/);
    expect(took).toBeLessThan(2000);
    // Gone for good: not running, not a zombie.
    expect(libc.kill(pid, 0)).toBe(-1);
    expect(lastErrno()).toBe(Errno.ESRCH);
    expect(() => tryReap(pid)).toThrow(/ECHILD/);
  });

  test("the event loop keeps running while a child is awaited", async () => {
    const pid = forkChild("sleep", { ms: 300 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const s = await waitChild(pid, { timeoutMs: 5000 });
    clearInterval(timer);
    expect(s).toEqual({ kind: "exited", code: 0 });
    expect(ticks).toBeGreaterThanOrEqual(10);
  });

  test("fork + wait round trip", async () => {
    const n = 200;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) expect(await waitChild(forkChild("exit", { code: 0 }))).toEqual({ kind: "exited", code: 0 });
    const us = ((performance.now() - t0) * 1000) / n;
    figures.push(`fork+wait round trip (no uffd): ${us.toFixed(0)} µs (mean of ${n})`);
  });
});

describe("probeSigbus in this process", () => {
  test("true past EOF, false on a normal page, 1,000 times each", () => {
    const eof = pastEof();
    const plain = mmap(P);
    try {
      bytesAt(plain, 1)[0] = 0x33;
      let hits = 0;
      let misses = 0;
      const t0 = performance.now();
      for (let i = 0; i < 1000; i++) if (probeSigbus(eof.addr + P, { write: i % 2 === 1 })) hits++;
      const t1 = performance.now();
      for (let i = 0; i < 1000; i++) if (!probeSigbus(plain, { write: i % 2 === 1 })) misses++;
      const t2 = performance.now();
      expect([hits, misses]).toEqual([1000, 1000]);
      expect(probeSigbus(eof.addr)).toBe(false);
      expect(bytesAt(plain, 1)[0]).toBe(0x33); // a write probe stores the byte it read
      figures.push(`probeSigbus: ${(t1 - t0).toFixed(2)} µs with SIGBUS, ${(t2 - t1).toFixed(2)} µs without (mean of 1000)`);
    } finally {
      eof.dispose();
      munmap(plain, P);
    }
  });

  test.skipIf(!has("SIGBUS"))("a uffd with the SIGBUS feature: SIGBUS until the page is copied in", () => {
    using uffd = Uffd.create({ features: ["SIGBUS"] });
    using area = Area.allocate(MEMORY.anon, 4 * P);
    const src = mmap(P);
    try {
      bytesAt(src, P).fill(0x77);
      uffd.register({ start: area.addr, len: area.size }, { missing: true });
      for (let i = 0; i < 4; i++) {
        expect(probeSigbus(area.addr + i * P)).toBe(true);
        expect(uffd.copy(area.addr + i * P, src, P)).toBe(P);
        expect(probeSigbus(area.addr + i * P, { write: true })).toBe(false);
      }
      expect(bytesAt(area.addr, area.size).every((b) => b === 0x77)).toBe(true);
    } finally {
      munmap(src, P);
    }
  });
});

test.skipIf(!has("PAGEFAULT_FLAG_WP"))("uffd-wp bit: set here, dropped in a child without EVENT_FORK", async () => {
  using uffd = Uffd.create({ features: ["PAGEFAULT_FLAG_WP"] });
  using area = Area.allocate(MEMORY.anon, 2 * P);
  uffd.register({ start: area.addr, len: area.size }, { wp: true });
  bytesAt(area.addr, 1)[0] = 1;
  uffd.writeProtect({ start: area.addr, len: P }, { wp: true });
  using pm = new Pagemap();
  expect(pm.entry(area.addr) & PAGEMAP.UFFD_WP).toBe(PAGEMAP.UFFD_WP);
  const child = decodePagemap(await childPagemap(area.addr));
  expect(child.present).toBe(true);
  expect(child.uffdWp).toBe(false);
});

/** A fork-event handler Worker over `uffd`. */
async function startForkHandler(uffd: Uffd, mode: "count" | "serve", src?: number) {
  const counters = new SharedArrayBuffer(SLOT_COUNT * 4);
  const c = new Int32Array(counters);
  const [stopR, stopW] = pipe();
  const worker = new Worker(new URL("./workers/native-fork-handler.ts", import.meta.url));
  const done = new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(`fork handler: ${e.message}`));
  });
  const init: ForkHandlerInit = { uffdFd: uffd.fd, stopFd: stopR, counters, mode, src, pageSize: P };
  worker.postMessage(init);
  const deadline = performance.now() + 5000;
  while (Atomics.load(c, SLOT.READY) === 0) {
    if (performance.now() > deadline) throw new Error("fork handler never became ready");
    await Bun.sleep(1);
  }
  return {
    count: (slot: number) => Atomics.load(c, slot),
    /** A counter once it reaches `want` (the Worker counts just after the kernel wakes the child). */
    async settled(slot: number, want: number): Promise<number> {
      const until = performance.now() + 2000;
      while (Atomics.load(c, slot) < want && performance.now() < until) await Bun.sleep(1);
      return Atomics.load(c, slot);
    },
    async stop() {
      writeByte(stopW);
      const r = await done;
      worker.terminate();
      close(stopR);
      close(stopW);
      if (!r.ok) throw new Error(`fork handler failed: ${r.error}`);
    },
  };
}

describe.skipIf(!has("EVENT_FORK"))("forks under EVENT_FORK, events read by a Worker", () => {
  test("1,000 forks: all reaped, no hang, no crash, 1,000 fork events", async () => {
    using uffd = Uffd.create({ features: ["EVENT_FORK"] });
    using area = Area.allocate(MEMORY.anon, 16 * P);
    uffd.register({ start: area.addr, len: area.size }, { missing: true });
    const h = await startForkHandler(uffd, "count");
    const tally = { exited0: 0, other: [] as string[] };
    const n = 1000;
    const t0 = performance.now();
    try {
      for (let i = 0; i < n; i++) {
        const s = await waitChild(forkChild("exit", { code: 0 }), { timeoutMs: 5000 });
        if (s.kind === "exited" && s.code === 0) tally.exited0++;
        else tally.other.push(JSON.stringify(s));
      }
    } finally {
      await h.stop();
    }
    const ms = performance.now() - t0;
    expect(tally.other.slice(0, 5)).toEqual([]);
    expect(tally.exited0).toBe(n);
    expect(await h.settled(SLOT.FORKS, n)).toBe(n);
    expect(h.count(SLOT.ERRORS)).toBe(0);
    figures.push(`1,000 forks under EVENT_FORK: ${ms.toFixed(0)} ms (${((ms * 1000) / n).toFixed(0)} µs each, fork+event+wait)`);
  }, 120_000);

  test("a child's missing faults are served by the Worker (COPY on the child's uffd)", async () => {
    using uffd = Uffd.create({ features: ["EVENT_FORK"] });
    using area = Area.allocate(MEMORY.anon, 8 * P);
    uffd.register({ start: area.addr, len: area.size }, { missing: true });
    const src = mmap(P);
    bytesAt(src, P).fill(0xa5);
    const h = await startForkHandler(uffd, "serve", src);
    try {
      const r = await childTouch({ addr: area.addr, len: area.size, check: { kind: "fill", expect: 0xa5 } }, { timeoutMs: 10_000 });
      expect(r).toEqual({ status: { kind: "exited", code: 0 }, pages: 8, mismatches: 0 });
      expect([await h.settled(SLOT.FORKS, 1), await h.settled(SLOT.SERVED, 8), h.count(SLOT.ERRORS)]).toEqual([1, 8, 0]);
      // The parent's own pages were never faulted in.
      using pm = new Pagemap();
      expect(decodePagemap(pm.entry(area.addr)).present).toBe(false);
    } finally {
      await h.stop();
      munmap(src, P);
    }
  }, 30_000);
});
