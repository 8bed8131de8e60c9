// Fork a child that runs one C routine on its copy of our memory and exits
// with the routine's result (child.c). JavaScript never runs in the child.
//
// Routines get an array of u64 arguments; slot 0 is always the write end of a
// report pipe (-1: none). runChild() makes that pipe, waits for the child and
// returns what it wrote. A child of a process whose userfaultfd has
// EVENT_FORK enabled is held inside fork() until someone reads the fork event:
// have a handler thread (a Worker) reading the uffd before calling these.
// The child gets SIGKILL when the thread that forked it ends
// (PR_SET_PDEATHSIG), so a child forked from a Worker dies with the Worker.
import type { Pointer } from "bun:ffi";
import childSource from "./child.c" with { type: "text" };
import { Errno, lastErrno, SysError } from "../errno.ts";
import { close, O, pipe, setNonBlocking } from "../fd.ts";
import { libc } from "../libc.ts";
import { MADV, PAGE_SIZE, Scratch } from "../mem.ts";
import { loadNative, symbolAddress } from "./load.ts";
import { type ChildStatus, describeStatus } from "./status.ts";
import { waitChild } from "./wait.ts";

const routineSig = { args: ["ptr"], returns: "i32" } as const;
const unit = loadNative("child", childSource, {
  native_fork: { args: ["ptr", "ptr"], returns: "i32" },
  child_exit: routineSig,
  child_sleep: routineSig,
  child_touch: routineSig,
  child_pagemap: routineSig,
  child_zap_pagemap: routineSig,
  child_count_sigbus: routineSig,
});

/** A C routine `int f(const unsigned long long *args)` to run in a child. */
export interface NativeRoutine {
  readonly name: string;
  readonly address: number;
}

/** Wrap a compiled routine (a symbol from loadNative) for forkChild. */
export function nativeRoutine(name: string, fn: unknown): NativeRoutine {
  return { name, address: symbolAddress(fn) };
}

/** Exit codes of the built-in routines. */
export const CHILD_EXIT = {
  OK: 0,
  MISMATCH: 1,
  BAD_ARGS: 2,
  OPEN_FAILED: 3,
  READ_FAILED: 4,
  REPORT_FAILED: 5,
  MADVISE_FAILED: 6,
  SIGACTION_FAILED: 7,
  ORPHANED: 8,
} as const;

const EXIT_TEXT: Readonly<Record<number, string>> = {
  0: "ok",
  1: "content mismatch",
  2: "bad arguments",
  3: "cannot open /proc/self/pagemap",
  4: "cannot read /proc/self/pagemap",
  5: "cannot write the report pipe",
  6: "madvise failed",
  7: "sigaction failed",
  8: "parent gone before the child started",
};

export function childExitMeaning(code: number): string {
  return EXIT_TEXT[code] ?? `exit code ${code}`;
}

/** read: load a byte; write: store `value`; rewrite: load a byte and store it back unchanged. */
export type Access = "read" | "write" | "rewrite";
const ACCESS: Readonly<Record<Access, number>> = { read: 0, write: 1, rewrite: 2 };

export interface PageCheck {
  /** byte: one byte at `offset`; u64: a 64-bit value at `offset`; fill: every byte of the page. */
  readonly kind: "byte" | "u64" | "fill";
  readonly offset?: number;
  /** The value every page must hold... */
  readonly expect?: number | bigint;
  /** ...or one value per page. */
  readonly perPage?: readonly (number | bigint)[] | BigUint64Array;
}
const CHECK = { byte: 1, u64: 2, fill: 3 } as const;

export interface TouchArgs {
  readonly addr: number;
  readonly len: number;
  /** Distance between touches (default: the base page size). */
  readonly step?: number;
  readonly access?: Access;
  /** Where in each page the touch happens (default 0). */
  readonly offset?: number;
  /** Byte stored by access "write". */
  readonly value?: number;
  /** Checked before any write. */
  readonly check?: PageCheck;
}
export interface PagemapArgs {
  readonly addr: number;
}
export interface ZapPagemapArgs {
  readonly addr: number;
  readonly len: number;
  /** madvise advice (default MADV_DONTNEED). */
  readonly advice?: number;
}
export interface CountSigbusArgs {
  readonly addr: number;
  readonly len: number;
  readonly step?: number;
  readonly access?: Access;
  readonly offset?: number;
}
export interface SleepArgs {
  readonly ms: number;
}
export interface ExitArgs {
  readonly code: number;
}

export interface BuiltinArgs {
  exit: ExitArgs;
  sleep: SleepArgs;
  touch: TouchArgs;
  pagemap: PagemapArgs;
  "zap-pagemap": ZapPagemapArgs;
  "count-sigbus": CountSigbusArgs;
}
export type BuiltinRoutine = keyof BuiltinArgs;

export interface ForkOptions {
  /** Written into slot 0: where the routine reports (default -1, none). */
  readonly reportFd?: number;
}

const MAX_SLOTS = 64;
let argPage: Scratch | undefined;

type Slots = (number | bigint)[];

function encodeBuiltin(routine: BuiltinRoutine, a: BuiltinArgs[BuiltinRoutine], hold: Scratch[]): { fn: unknown; slots: Slots } {
  const s = unit().symbols;
  switch (routine) {
    case "exit":
      return { fn: s.child_exit, slots: [(a as ExitArgs).code] };
    case "sleep":
      return { fn: s.child_sleep, slots: [(a as SleepArgs).ms] };
    case "pagemap":
      return { fn: s.child_pagemap, slots: [(a as PagemapArgs).addr, PAGE_SIZE] };
    case "zap-pagemap": {
      const z = a as ZapPagemapArgs;
      return { fn: s.child_zap_pagemap, slots: [z.addr, z.len, PAGE_SIZE, z.advice ?? MADV.DONTNEED] };
    }
    case "count-sigbus": {
      const c = a as CountSigbusArgs;
      return { fn: s.child_count_sigbus, slots: [c.addr, c.len, c.step ?? PAGE_SIZE, ACCESS[c.access ?? "read"], c.offset ?? 0] };
    }
    case "touch": {
      const t = a as TouchArgs;
      const step = t.step ?? PAGE_SIZE;
      const ck = t.check;
      let perPage = 0;
      if (ck?.perPage) {
        const pages = Math.ceil(t.len / step);
        if (ck.perPage.length < pages) throw new Error(`touch: perPage has ${ck.perPage.length} values for ${pages} pages`);
        const buf = new Scratch(pages * 8);
        hold.push(buf);
        for (let i = 0; i < pages; i++) buf.view.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(ck.perPage[i]!)), true);
        perPage = buf.addr;
      }
      return {
        fn: s.child_touch,
        slots: [
          t.addr,
          t.len,
          step,
          ACCESS[t.access ?? "read"],
          t.offset ?? 0,
          t.value ?? 0,
          ck ? CHECK[ck.kind] : 0,
          ck?.offset ?? 0,
          ck?.expect ?? 0,
          perPage,
        ],
      };
    }
  }
}

function forkWith(address: number, slots: Slots, reportFd: number): number {
  if (slots.length + 1 > MAX_SLOTS) throw new Error(`forkChild: at most ${MAX_SLOTS - 1} arguments`);
  const page = (argPage ??= new Scratch(MAX_SLOTS * 8));
  page.view.setBigInt64(0, BigInt(reportFd), true);
  slots.forEach((v, i) => page.view.setBigUint64((i + 1) * 8, BigInt.asUintN(64, BigInt(v)), true));
  const pid = unit().symbols.native_fork(address as Pointer, page.addr as Pointer);
  if (pid < 0) throw new SysError("clone", lastErrno(), "fork for a native child");
  return pid;
}

/**
 * Fork a child running `routine`; returns its pid (reap it with waitChild).
 * The call returns once the kernel has created the child, which with
 * EVENT_FORK means once the fork event has been read.
 */
export function forkChild<R extends BuiltinRoutine>(routine: R, args: BuiltinArgs[R], opts?: ForkOptions): number;
export function forkChild(routine: NativeRoutine, args: readonly (number | bigint)[], opts?: ForkOptions): number;
export function forkChild(routine: BuiltinRoutine | NativeRoutine, args: unknown, opts: ForkOptions = {}): number {
  const hold: Scratch[] = [];
  try {
    if (typeof routine === "string") {
      const { fn, slots } = encodeBuiltin(routine, args as BuiltinArgs[BuiltinRoutine], hold);
      return forkWith(symbolAddress(fn), slots, opts.reportFd ?? -1);
    }
    return forkWith(routine.address, [...(args as readonly (number | bigint)[])], opts.reportFd ?? -1);
  } finally {
    for (const h of hold) h.dispose();
  }
}

export interface RunOptions {
  /** Default 10 s; past it the child is killed and reaped. */
  readonly timeoutMs?: number;
}

export interface ChildRun {
  readonly status: ChildStatus;
  /** The u64 values the routine wrote to its report pipe (at most 64 KiB of them). */
  readonly report: readonly bigint[];
}

let drainBuf: Scratch | undefined;

function drain(fd: number): bigint[] {
  const buf = (drainBuf ??= new Scratch(64 * 1024));
  const out: bigint[] = [];
  let pending = new Uint8Array(0);
  for (;;) {
    const n = libc.read(fd, buf.addr, buf.size);
    if (n <= 0) {
      if (n < 0 && lastErrno() === Errno.EINTR) continue;
      break; // 0: EOF; <0: EAGAIN (nothing more) or an error after the child is gone
    }
    const bytes = new Uint8Array(pending.length + n);
    bytes.set(pending);
    bytes.set(buf.bytes.subarray(0, n), pending.length);
    const whole = bytes.length - (bytes.length % 8);
    const v = new DataView(bytes.buffer, 0, whole);
    for (let o = 0; o < whole; o += 8) out.push(v.getBigUint64(o, true));
    pending = bytes.slice(whole);
  }
  return out;
}

/** Fork `routine` with a report pipe, wait for it, and collect its report. */
export async function runChild<R extends BuiltinRoutine>(routine: R, args: BuiltinArgs[R], opts?: RunOptions): Promise<ChildRun>;
export async function runChild(routine: NativeRoutine, args: readonly (number | bigint)[], opts?: RunOptions): Promise<ChildRun>;
export async function runChild(routine: BuiltinRoutine | NativeRoutine, args: unknown, opts: RunOptions = {}): Promise<ChildRun> {
  // The child writes blocking (so a burst is never lost); we read non-blocking.
  const [r, w] = pipe(O.CLOEXEC);
  let pid: number;
  try {
    setNonBlocking(r, true);
    pid = forkChild(routine as NativeRoutine, args as readonly number[], { reportFd: w });
  } catch (e) {
    close(r);
    throw e;
  } finally {
    close(w);
  }
  try {
    const status = await waitChild(pid, opts);
    return { status, report: drain(r) };
  } finally {
    close(r);
  }
}

export class ChildFailedError extends Error {
  override readonly name = "ChildFailedError";
  readonly status: ChildStatus;
  constructor(routine: string, status: ChildStatus) {
    const why = status.kind === "exited" ? `${describeStatus(status)}: ${childExitMeaning(status.code)}` : describeStatus(status);
    super(`child routine '${routine}' failed: ${why}`);
    this.status = status;
  }
}

function okReport(routine: string, run: ChildRun, want: number): readonly bigint[] {
  if (run.status.kind !== "exited" || run.status.code !== 0 || run.report.length < want) {
    throw new ChildFailedError(routine, run.status);
  }
  return run.report;
}

export interface TouchResult {
  readonly status: ChildStatus;
  /** Pages touched, pages whose check failed, and the first failure (when the child got that far). */
  readonly pages?: number;
  readonly mismatches?: number;
  readonly firstBad?: { readonly page: number; readonly value: bigint };
}

/** Touch pages in a child. A fault that kills it shows in `status`, not as an exception. */
export async function childTouch(args: TouchArgs, opts?: RunOptions): Promise<TouchResult> {
  const run = await runChild("touch", args, opts);
  const [pages, bad, first, seen] = run.report;
  if (pages === undefined || bad === undefined) return { status: run.status };
  return {
    status: run.status,
    pages: Number(pages),
    mismatches: Number(bad),
    ...(bad > 0n && first !== undefined && seen !== undefined ? { firstBad: { page: Number(first), value: seen } } : {}),
  };
}

/** The child's /proc/self/pagemap entry for `addr`. */
export async function childPagemap(addr: number, opts?: RunOptions): Promise<bigint> {
  return okReport("pagemap", await runChild("pagemap", { addr }, opts), 1)[0]!;
}

/** In the child: pagemap entry of `addr`, madvise(addr, len, advice), the entry again. */
export async function childZapPagemap(args: ZapPagemapArgs, opts?: RunOptions): Promise<{ before: bigint; after: bigint }> {
  const r = okReport("zap-pagemap", await runChild("zap-pagemap", args, opts), 2);
  return { before: r[0]!, after: r[1]! };
}

export interface SigbusCount {
  readonly count: number;
  readonly pages: number;
  /** Whether page i signalled (undefined past 262144 pages, where no bitmap is sent). */
  signalled(i: number): boolean | undefined;
}

/** Touch each page in a child that catches SIGBUS; count the pages that raised it. */
export async function childCountSigbus(args: CountSigbusArgs, opts?: RunOptions): Promise<SigbusCount> {
  const r = okReport("count-sigbus", await runChild("count-sigbus", args, opts), 2);
  const count = Number(r[0]!);
  const pages = Number(r[1]!);
  const bits = r.slice(2);
  return {
    count,
    pages,
    signalled: (i) => {
      const word = bits[Math.floor(i / 64)];
      return word === undefined || i < 0 || i >= pages ? undefined : ((word >> BigInt(i % 64)) & 1n) === 1n;
    },
  };
}
