// In-process faulting loops that survive SIGBUS (faults.c), for a Worker
// thread: the C suite's faulting_process(1) of the sigbus tests, and the
// poison test's reader. The userfaultfd is served elsewhere (or not at all,
// with UFFD_FEATURE_SIGBUS); these routines only take the faults.
import type { Pointer } from "bun:ffi";
import faultsSource from "./faults.c" with { type: "text" };
import { Scratch } from "../mem.ts";
import { loadNative } from "./load.ts";

const unit = loadNative("faults", faultsSource, {
  faults_sigbus_resolve: { args: ["ptr", "ptr"], returns: "i32" },
  faults_poison_scan: { args: ["ptr", "ptr"], returns: "i32" },
});

const ERRORS: Readonly<Record<number, string>> = {
  [-1]: "sigaction(SIGBUS) failed",
  [-2]: "UFFDIO_COPY failed in the signal path",
  [-3]: "UFFDIO_WAKE failed in the signal path",
  [-4]: "UFFDIO_WRITEPROTECT (unprotect) failed in the signal path",
  [-5]: "a page kept raising SIGBUS after it was resolved",
};

/** faults.c's FAULTS_OK, FAULTS_CORRUPT, FAULTS_REPEATED, FAULTS_WRONG_PAGE, by number. */
const VERDICTS: readonly SigbusResolveResult["verdict"][] = ["ok", "corrupt", "repeated", "wrong-page"];

/** The userfaultfd ioctl request numbers the signal path issues (passed in: src/sys knows no uffd ABI). */
export interface SignalPathIoctls {
  readonly copy: number;
  readonly wake: number;
  readonly writeProtect: number;
}

export interface SigbusResolveArgs {
  readonly uffd: number;
  readonly dst: number;
  readonly src: number;
  /** Pages walked from dst (the C walks the first half, rounded up). */
  readonly pages: number;
  readonly pageSize: number;
  /** Where the 64-bit counter sits in a page. */
  readonly countOffset: number;
  /** The counter each page must hold. */
  readonly expected: ArrayLike<number>;
  /** Copy with UFFDIO_COPY_MODE_WP, and unprotect on the write's SIGBUS. */
  readonly wp: boolean;
  readonly ioctls: SignalPathIoctls;
  /** Each page's tag (u64 at `offset`: seed << 32 | page number), checked after its counter; absent: not checked. */
  readonly tag?: { readonly offset: number; readonly seed: number };
  /** Test only (a plant): copy each page from this many source pages further on. */
  readonly sourceShift?: number;
}

export interface SigbusResolveResult {
  /** Pages the signal path copied in. */
  readonly copied: number;
  /** SIGBUS taken in all (missing plus write-protect). */
  readonly sigbus: number;
  /**
   * ok; corrupt: a counter differed; repeated: a second missing SIGBUS on the
   * page just copied; wrong-page: a page's tag is not its own (seen and
   * expected are then tags).
   */
  readonly verdict: "ok" | "corrupt" | "repeated" | "wrong-page";
  readonly page?: number;
  readonly seen?: bigint;
  readonly expected?: bigint;
  /** A failed system call in the signal path, in words. */
  readonly error?: string;
}

/**
 * Walk `pages` pages of a range registered with UFFD_FEATURE_SIGBUS from this
 * thread: every SIGBUS is resolved by the signal path and the access retried.
 */
export function sigbusResolve(a: SigbusResolveArgs): SigbusResolveResult {
  const args = new Scratch(14 * 8);
  const out = new Scratch(8 * 8);
  const verify = new Scratch(Math.max(8, a.pages * 8));
  try {
    for (let i = 0; i < a.pages; i++) verify.view.setBigUint64(i * 8, BigInt(a.expected[i] ?? 0), true);
    const slots = [
      a.uffd,
      a.dst,
      a.src,
      a.pages,
      a.pageSize,
      a.countOffset,
      verify.addr,
      a.wp ? 1 : 0,
      a.ioctls.copy,
      a.ioctls.wake,
      a.ioctls.writeProtect,
      a.tag?.offset ?? 0,
      a.tag?.seed ?? 0,
      a.sourceShift ?? 0,
    ];
    slots.forEach((v, i) => args.view.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(v)), true));
    const rc = unit().symbols.faults_sigbus_resolve(args.addr as Pointer, out.addr as Pointer);
    const o = (i: number) => out.view.getBigUint64(i * 8, true);
    const verdict = VERDICTS[Number(o(1))];
    if (verdict === undefined) throw new Error(`sigbus resolve: unknown verdict ${o(1)}`);
    const base = { copied: Number(o(0)), sigbus: Number(o(5)) };
    if (rc < 0) {
      const result = o(6) === 0n ? "" : ` (result ${BigInt.asIntN(64, o(6))})`;
      return { ...base, verdict: "ok", page: Number(o(2)), error: `${ERRORS[rc] ?? `error ${rc}`} at page ${o(2)}${result}` };
    }
    if (verdict === "corrupt" || verdict === "wrong-page") return { ...base, verdict, page: Number(o(2)), seen: o(3), expected: o(4) };
    if (verdict === "repeated") return { ...base, verdict, page: Number(o(2)) };
    return { ...base, verdict };
  } finally {
    verify.dispose();
    out.dispose();
    args.dispose();
  }
}

export interface PoisonScanResult {
  /** Pages whose read raised SIGBUS. */
  readonly sigbus: number;
  /** Pages that did not raise SIGBUS but hold a non-zero byte. */
  readonly nonZero: number;
  readonly firstNonZero?: { readonly page: number; readonly offset: number; readonly value: number };
  /** Pages that raised SIGBUS, by number. */
  readonly signalled: readonly number[];
}

/** Read every byte of every page from this thread; count the pages that raise SIGBUS. */
export function poisonScan(a: { dst: number; pages: number; pageSize: number }): PoisonScanResult {
  const words = Math.ceil(a.pages / 64);
  const args = new Scratch(4 * 8);
  const out = new Scratch((8 + words) * 8);
  try {
    [a.dst, a.pages, a.pageSize, words].forEach((v, i) => args.view.setBigUint64(i * 8, BigInt(v), true));
    const rc = unit().symbols.faults_poison_scan(args.addr as Pointer, out.addr as Pointer);
    if (rc !== 0) throw new Error(`poison scan: ${ERRORS[rc] ?? `error ${rc}`}`);
    const o = (i: number) => out.view.getBigUint64(i * 8, true);
    const signalled: number[] = [];
    for (let p = 0; p < a.pages; p++) {
      if ((o(8 + Math.floor(p / 64)) >> BigInt(p % 64)) & 1n) signalled.push(p);
    }
    const nonZero = Number(o(1));
    return {
      sigbus: Number(o(0)),
      nonZero,
      ...(nonZero > 0 ? { firstNonZero: { page: Number(o(2)), offset: Number(o(3)), value: Number(o(4)) } } : {}),
      signalled,
    };
  } finally {
    out.dispose();
    args.dispose();
  }
}
