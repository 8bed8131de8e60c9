// A typed userfaultfd over the raw ioctls.
//
// Each instance owns a scratch page for ioctl arguments and read() messages, so
// an instance belongs to one thread. Another thread (a Worker) that serves the
// same fd adopts it with `Uffd.adopt(fd)` and gets its own scratch.
import { check, Errno, lastErrno, SysError } from "../sys/errno.ts";
import { close as closeFd, O, setNonBlocking, tryOpen } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";
import { Scratch } from "../sys/mem.ts";
import { syscallTable } from "../sys/arch.ts";
import { FeatureSet, IoctlSet } from "./bits.ts";
import {
  CONTINUE_MODE,
  COPY_MODE,
  type FeatureName,
  MOVE_MODE,
  POISON_MODE,
  REGISTER_MODE,
  UFFD_API,
  UFFD_USER_MODE_ONLY,
  WRITEPROTECT_MODE,
  ZEROPAGE_MODE,
} from "./constants.ts";
import { requireFeatures, UffdIoctlError, UffdPermissionError } from "./errors.ts";
import { decodeEvent, type UffdEvent } from "./events.ts";
import { getS64, getU64, getU64Big, setU64 } from "../sys/u64.ts";
import { IOCTL, STRUCTS, UFFD_MSG } from "./structs.ts";

export interface Range {
  readonly start: number;
  readonly len: number;
}

export type OpenVia = "syscall" | "dev";

export interface OpenOptions {
  /** Which creation path to use; "auto" (default) tries the syscall, then /dev/userfaultfd. */
  readonly via?: OpenVia | "auto";
  readonly nonBlocking?: boolean;
  readonly cloexec?: boolean;
  /** Ask for UFFD_USER_MODE_ONLY (retried without it on kernels that reject it). */
  readonly userModeOnly?: boolean;
}

export interface CreateOptions extends OpenOptions {
  /** Features to enable in the handshake; missing ones raise MissingFeatureError. */
  readonly features?: readonly FeatureName[];
}

export interface RegisterModes {
  readonly missing?: boolean;
  readonly wp?: boolean;
  readonly minor?: boolean;
}

/** How many 32-byte messages one read() may return. */
export const MSG_BATCH = 64;
const ARG = 0; // ioctl argument area at the start of the scratch page
const MSGS = 256; // message buffer after it

function rawOpen(via: OpenVia, flags: number): number {
  if (via === "syscall") {
    const fd = libc.syscall(syscallTable().userfaultfd, flags, 0, 0, 0, 0);
    return fd < 0 ? -lastErrno() : fd;
  }
  const dev = tryOpen("/dev/userfaultfd", O.RDWR | O.CLOEXEC);
  if (dev < 0) return dev;
  const fd = libc.ioctl(dev, IOCTL.DEV_NEW, flags);
  const err = fd < 0 ? lastErrno() : 0;
  libc.close(dev);
  return fd < 0 ? -err : fd;
}

export class Uffd {
  readonly fd: number;
  /** How the fd was created ("adopted" when this thread took over an existing fd). */
  readonly via: OpenVia | "adopted";
  readonly userModeOnly: boolean;
  #available = new FeatureSet(0n);
  #enabled = new FeatureSet(0n);
  #ioctls = new IoctlSet(0n);
  readonly #scratch: Scratch;
  readonly #v: DataView;
  readonly #arg: number;
  readonly #msgs: number;
  #closed = false;
  /** The result field of the last resolving ioctl (bytes done or -errno). */
  lastResult = 0;

  private constructor(fd: number, via: OpenVia | "adopted", userModeOnly: boolean) {
    this.fd = fd;
    this.via = via;
    this.userModeOnly = userModeOnly;
    this.#scratch = new Scratch(4096);
    this.#v = this.#scratch.view;
    this.#arg = this.#scratch.addr + ARG;
    this.#msgs = this.#scratch.addr + MSGS;
  }

  /** Create a userfaultfd without the API handshake. */
  static open(opts: OpenOptions = {}): Uffd {
    const base = ((opts.cloexec ?? true) ? O.CLOEXEC : 0) | ((opts.nonBlocking ?? true) ? O.NONBLOCK : 0);
    const umo = opts.userModeOnly ?? true;
    const order: OpenVia[] = opts.via === "dev" ? ["dev"] : opts.via === "syscall" ? ["syscall"] : ["syscall", "dev"];
    const failures: string[] = [];
    let denied = false;
    for (const via of order) {
      let fd = rawOpen(via, base | (umo ? UFFD_USER_MODE_ONLY : 0));
      let usedUmo = umo;
      if (fd === -Errno.EINVAL && umo) {
        // Kernels before 5.11 know no UFFD_USER_MODE_ONLY.
        fd = rawOpen(via, base);
        usedUmo = false;
      }
      if (fd >= 0) return new Uffd(fd, via, usedUmo);
      const err = -fd;
      if (err === Errno.EPERM || err === Errno.EACCES) denied = true;
      failures.push(`${via === "syscall" ? "userfaultfd()" : "/dev/userfaultfd"}: ${new SysError("open", err).code}`);
      if (!denied && err !== Errno.ENOSYS && err !== Errno.ENOENT && order.length === 1) break;
    }
    if (denied) throw new UffdPermissionError(failures.join(", "));
    throw new SysError("userfaultfd", Errno.ENOSYS, failures.join(", "));
  }

  /** Open and complete the API handshake, enabling `features`. */
  static create(opts: CreateOptions = {}): Uffd {
    const want = opts.features ?? [];
    if (want.length > 0) requireFeatures(probeFeatures(opts), want);
    const u = Uffd.open(opts);
    try {
      u.api(FeatureSet.of(want).mask);
    } catch (e) {
      u.close();
      throw e;
    }
    return u;
  }

  /** Serve an fd created elsewhere (another thread, a fork event) from this thread. */
  static adopt(fd: number): Uffd {
    return new Uffd(fd, "adopted", true);
  }

  /** Features the kernel offers (as answered by the handshake). */
  get available(): FeatureSet {
    return this.#available;
  }
  /** Features asked for in the handshake. */
  get enabled(): FeatureSet {
    return this.#enabled;
  }
  /** ioctls the handshake answered. */
  get ioctls(): IoctlSet {
    return this.#ioctls;
  }

  /** UFFDIO_API. `api` defaults to UFFD_API; a second call on one fd fails (by design). */
  api(features: bigint, api = UFFD_API): { features: FeatureSet; ioctls: IoctlSet } {
    const v = this.#v;
    const o = STRUCTS.uffdio_api.off;
    setU64(v, ARG + o.api, api);
    v.setBigUint64(ARG + o.features, features, true);
    setU64(v, ARG + o.ioctls, 0);
    check("UFFDIO_API", libc.ioctl(this.fd, IOCTL.API, this.#arg), `features=0x${features.toString(16)}`);
    this.#available = new FeatureSet(getU64Big(v, ARG + o.features));
    this.#ioctls = new IoctlSet(getU64Big(v, ARG + o.ioctls));
    this.#enabled = new FeatureSet(features);
    return { features: this.#available, ioctls: this.#ioctls };
  }

  /** UFFDIO_REGISTER; returns the ioctls offered for the range. */
  register(range: Range, modes: RegisterModes): IoctlSet {
    const mode = (modes.missing ? REGISTER_MODE.MISSING : 0) | (modes.wp ? REGISTER_MODE.WP : 0) | (modes.minor ? REGISTER_MODE.MINOR : 0);
    return this.registerMode(range, mode);
  }

  /** UFFDIO_REGISTER with a raw mode mask (tests of unknown bits use this). */
  registerMode(range: Range, mode: number): IoctlSet {
    const v = this.#v;
    const o = STRUCTS.uffdio_register.off;
    setU64(v, ARG + o.start, range.start);
    setU64(v, ARG + o.len, range.len);
    setU64(v, ARG + o.mode, mode);
    setU64(v, ARG + o.ioctls, 0);
    check("UFFDIO_REGISTER", libc.ioctl(this.fd, IOCTL.REGISTER, this.#arg), `mode=${mode}`);
    return new IoctlSet(getU64Big(v, ARG + o.ioctls));
  }

  unregister(range: Range): void {
    this.#range(range);
    check("UFFDIO_UNREGISTER", libc.ioctl(this.fd, IOCTL.UNREGISTER, this.#arg));
  }

  wake(range: Range): void {
    check("UFFDIO_WAKE", this.tryWake(range.start, range.len) === 0 ? 0 : -1);
  }

  /** UFFDIO_WAKE; 0 or -errno. Allocation-free. */
  tryWake(start: number, len: number): number {
    setU64(this.#v, ARG, start);
    setU64(this.#v, ARG + 8, len);
    return libc.ioctl(this.fd, IOCTL.WAKE, this.#arg) < 0 ? -lastErrno() : 0;
  }

  #range(range: Range): void {
    setU64(this.#v, ARG, range.start);
    setU64(this.#v, ARG + 8, range.len);
  }

  #resolved(call: string, rc: number, err: number): number {
    if (rc === 0) return this.lastResult;
    throw new UffdIoctlError(call, err, this.lastResult);
  }

  /**
   * UFFDIO_COPY without allocation: 0 on success, else -errno; the result
   * field is left in `lastResult`.
   */
  tryCopy(dst: number, src: number, len: number, mode: number): number {
    return this.#srcDst(IOCTL.COPY, dst, src, len, mode);
  }

  /** UFFDIO_COPY; returns bytes copied. */
  copy(dst: number, src: number, len: number, opts: { wp?: boolean; dontWake?: boolean } = {}): number {
    const mode = (opts.wp ? COPY_MODE.WP : 0) | (opts.dontWake ? COPY_MODE.DONTWAKE : 0);
    const r = this.tryCopy(dst, src, len, mode);
    return this.#resolved("UFFDIO_COPY", r, -r);
  }

  /** Issue `req` on the argument area and keep its result field (at `resultOff`) in lastResult; 0 or -errno. */
  #withResult(req: number, resultOff: number): number {
    const rc = libc.ioctl(this.fd, req, this.#arg);
    const err = rc < 0 ? lastErrno() : 0;
    this.lastResult = getS64(this.#v, ARG + resultOff);
    return rc < 0 ? -err : 0;
  }

  /** A range ioctl with a result field at offset 24 (zeropage, continue, poison). */
  #rangeResult(req: number, start: number, len: number, mode: number): number {
    const v = this.#v;
    setU64(v, ARG, start);
    setU64(v, ARG + 8, len);
    setU64(v, ARG + 16, mode);
    setU64(v, ARG + 24, 0);
    return this.#withResult(req, 24);
  }

  /** dst, src, len, mode, then a result field (copy, move: the same layout). */
  #srcDst(req: number, dst: number, src: number, len: number, mode: number): number {
    const v = this.#v;
    const o = STRUCTS.uffdio_copy.off;
    setU64(v, ARG + o.dst, dst);
    setU64(v, ARG + o.src, src);
    setU64(v, ARG + o.len, len);
    setU64(v, ARG + o.mode, mode);
    setU64(v, ARG + o.copy, 0);
    return this.#withResult(req, o.copy);
  }

  tryZeropage(start: number, len: number, mode = 0): number {
    return this.#rangeResult(IOCTL.ZEROPAGE, start, len, mode);
  }

  zeropage(range: Range, opts: { dontWake?: boolean } = {}): number {
    const r = this.tryZeropage(range.start, range.len, opts.dontWake ? ZEROPAGE_MODE.DONTWAKE : 0);
    return this.#resolved("UFFDIO_ZEROPAGE", r, -r);
  }

  tryContinue(start: number, len: number, mode = 0): number {
    return this.#rangeResult(IOCTL.CONTINUE, start, len, mode);
  }

  /** UFFDIO_CONTINUE; returns bytes mapped. */
  continue(range: Range, opts: { wp?: boolean; dontWake?: boolean } = {}): number {
    const mode = (opts.wp ? CONTINUE_MODE.WP : 0) | (opts.dontWake ? CONTINUE_MODE.DONTWAKE : 0);
    const r = this.tryContinue(range.start, range.len, mode);
    return this.#resolved("UFFDIO_CONTINUE", r, -r);
  }

  tryPoison(start: number, len: number, mode = 0): number {
    return this.#rangeResult(IOCTL.POISON, start, len, mode);
  }

  /** UFFDIO_POISON; returns bytes updated. */
  poison(range: Range, opts: { dontWake?: boolean } = {}): number {
    const r = this.tryPoison(range.start, range.len, opts.dontWake ? POISON_MODE.DONTWAKE : 0);
    return this.#resolved("UFFDIO_POISON", r, -r);
  }

  /** UFFDIO_WRITEPROTECT; 0 or -errno. Allocation-free. */
  tryWriteProtect(start: number, len: number, mode: number): number {
    const v = this.#v;
    setU64(v, ARG, start);
    setU64(v, ARG + 8, len);
    setU64(v, ARG + 16, mode);
    return libc.ioctl(this.fd, IOCTL.WRITEPROTECT, this.#arg) < 0 ? -lastErrno() : 0;
  }

  /** Set (`wp: true`) or clear write protection on a range. */
  writeProtect(range: Range, opts: { wp: boolean; dontWake?: boolean }): void {
    const mode = (opts.wp ? WRITEPROTECT_MODE.WP : 0) | (opts.dontWake ? WRITEPROTECT_MODE.DONTWAKE : 0);
    const r = this.tryWriteProtect(range.start, range.len, mode);
    if (r < 0) throw new SysError("UFFDIO_WRITEPROTECT", -r, opts.wp ? "protect" : "unprotect");
  }

  tryMove(dst: number, src: number, len: number, mode: number): number {
    return this.#srcDst(IOCTL.MOVE, dst, src, len, mode);
  }

  /** UFFDIO_MOVE; returns bytes moved. */
  move(dst: number, src: number, len: number, opts: { allowSrcHoles?: boolean; dontWake?: boolean } = {}): number {
    const mode = (opts.allowSrcHoles ? MOVE_MODE.ALLOW_SRC_HOLES : 0) | (opts.dontWake ? MOVE_MODE.DONTWAKE : 0);
    const r = this.tryMove(dst, src, len, mode);
    return this.#resolved("UFFDIO_MOVE", r, -r);
  }

  /**
   * One read() of up to MSG_BATCH messages into this instance's buffer.
   * Returns how many arrived: 0 on EAGAIN (non-blocking fd) or EINTR; throws
   * on other errors. Read them with msgEvent/msgFlags/msgAddress or eventAt.
   */
  readRaw(): number {
    const n = libc.read(this.fd, this.#msgs, MSG_BATCH * UFFD_MSG.size);
    if (n < 0) {
      const err = lastErrno();
      if (err === Errno.EAGAIN || err === Errno.EINTR) return 0;
      throw new SysError("read", err, "userfaultfd");
    }
    return n / UFFD_MSG.size;
  }

  msgEvent(i: number): number {
    return this.#v.getUint8(MSGS + i * UFFD_MSG.size);
  }
  msgFlags(i: number): number {
    return this.#v.getUint32(MSGS + i * UFFD_MSG.size + UFFD_MSG.off.flags, true);
  }
  msgAddress(i: number): number {
    return getU64(this.#v, MSGS + i * UFFD_MSG.size + UFFD_MSG.off.address);
  }
  /** Message i of the last readRaw(), decoded. */
  eventAt(i: number): UffdEvent {
    return decodeEvent(this.#v, MSGS + i * UFFD_MSG.size);
  }

  /** Read what is queued (non-blocking fds) and decode it. */
  readEvents(): UffdEvent[] {
    const n = this.readRaw();
    const out: UffdEvent[] = [];
    for (let i = 0; i < n; i++) out.push(this.eventAt(i));
    return out;
  }

  setNonBlocking(on: boolean): void {
    setNonBlocking(this.fd, on);
  }

  /** Release this thread's scratch; with `closeFd` also close the fd. */
  dispose(opts: { closeFd: boolean }): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#scratch.dispose();
    if (opts.closeFd) closeFd(this.fd);
  }

  close(): void {
    this.dispose({ closeFd: true });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

let probed: { key: string; set: FeatureSet } | undefined;

/**
 * The kernel's feature set, asked on a throwaway fd (a second UFFDIO_API on
 * one fd fails by design, so the real fd must not be used for this).
 */
export function probeFeatures(opts: OpenOptions = {}): FeatureSet {
  const key = `${opts.via ?? "auto"}`;
  if (probed?.key === key) return probed.set;
  const u = Uffd.open({ ...opts, nonBlocking: true });
  try {
    const set = u.api(0n).features;
    probed = { key, set };
    return set;
  } finally {
    u.close();
  }
}
