// Run one sequence against the real kernel and the model side by side:
// every call's result and every userfaultfd message is compared with what
// the model allows at once; the first difference ends the sequence.
import { errnoName } from "../sys/errno.ts";
import { MADV, MAP } from "../sys/mem.ts";
import { type Pagemap, PAGEMAP } from "../sys/native/pagemap.ts";
import { childPagemap } from "../sys/native/child.ts";
import { PAGE_IS, type PagemapScanner } from "../sys/native/pagemap-scan.ts";
import { COPY_MODE, CONTINUE_MODE, MOVE_MODE, POISON_MODE, WRITEPROTECT_MODE, ZEROPAGE_MODE } from "../uffd/constants.ts";
import type { UffdEvent } from "../uffd/events.ts";
import type { Choice, Fault, Model, TouchStep } from "./model.ts";
import { MODE_BITS, type Op, opText } from "./ops.ts";
import type { ExplorePlants } from "./plants.ts";
import type { Rig } from "./rig.ts";
import { TOUCH_OP } from "./shared.ts";
import type { Toucher } from "./toucher.ts";

export class Divergence extends Error {
  override readonly name = "Divergence";
  /** 1-based operation number. */
  step = 0;
}

export interface CheckEnv {
  readonly rig: Rig;
  readonly model: Model;
  readonly toucher: Toucher;
  readonly plants: ExplorePlants;
  /** Registration modes the probe found refused on this memory type, with the errno. */
  readonly refused: (m: number) => string | undefined;
  readonly events: { readonly remove: boolean; readonly remap: boolean; readonly unmap: boolean };
  readonly threadId: boolean;
  readonly wpUnpopulated: boolean;
  /** CONTINUE takes MODE_WP here. */
  readonly continueWp: boolean;
  /** PAGEMAP_SCAN, where the kernel has it. */
  readonly scanner: PagemapScanner | undefined;
  readonly pagemap: Pagemap;
  /** How long a touch may take once nothing more should stop it. */
  readonly waitMs: number;
  /** Step around known kernel findings (skip the operation that would show one). */
  readonly stepAround: boolean;
}

const errName = (rc: number) => (rc === 0 ? "0" : errnoName(-rc));
const show = (c: Choice) => (c.result === undefined ? c.err : `${c.err} (result ${c.result})`);

/**
 * A known kernel finding (see README, explore): on hugetlb, a uffd-wp bit or
 * marker left behind when a WP range is registered again without WP makes a
 * write to that page fault forever (hugetlb_wp() skips uffd-wp entries,
 * expecting the WP path to have handled them, but the mapping is no longer
 * WP-registered). The access never completes, so a sequence cannot go on.
 */
export const STALE_HUGETLB_WP =
  "hugetlb: a write to a page with a stale uffd-wp bit in a mapping re-registered without WP loops in the fault path";

function staleHugetlbWp(rig: Rig, p: { reg: number; wp: boolean | undefined; poison: boolean | undefined }): boolean {
  return rig.mem.hugetlb && !(p.reg & MODE_BITS.wp) && p.wp !== false && p.poison !== true;
}

export class Checker {
  readonly #e: CheckEnv;
  #stamp = 0;
  ops = 0;
  /** Known findings stepped around, by name, with how often. */
  readonly known = new Map<string, number>();

  constructor(env: CheckEnv) {
    this.#e = env;
  }

  #fail(text: string): never {
    throw new Divergence(text);
  }

  /** Match a call's outcome against the model's choices and apply the one it took. */
  #match(what: string, choices: Choice[], rc: number, result?: number): void {
    const err = errName(rc);
    const c = choices.find((x) => x.err === err && (x.result === undefined || result === undefined || x.result === result));
    if (!c) {
      const got = result === undefined ? err : `${err} (result ${result})`;
      this.#fail(`${what}: expected ${choices.map(show).join(" or ")}, got ${got}`);
    }
    c.apply();
  }

  async run(op: Op): Promise<void> {
    this.ops++;
    const { rig, model } = this.#e;
    switch (op.o) {
      case "reg": {
        const refused = this.#e.refused(op.m);
        const rc = tryCall(() => rig.uffd.registerMode({ start: rig.page(op.a), len: (op.b - op.a) * rig.ps }, op.m));
        return this.#match(opText(op), model.register(op.a, op.b, op.m, refused), rc);
      }
      case "unreg": {
        const rc = tryCall(() => rig.uffd.unregister({ start: rig.page(op.a), len: (op.b - op.a) * rig.ps }));
        return this.#match(opText(op), model.unregister(op.a, op.b), rc);
      }
      case "copy":
        return void this.#copy(op.a, op.b, op.wp, op.dw, opText(op));
      case "zero": {
        const rc = rig.uffd.tryZeropage(rig.page(op.a), (op.b - op.a) * rig.ps, op.dw ? ZEROPAGE_MODE.DONTWAKE : 0);
        return this.#match(opText(op), model.zeropage(op.a, op.b), rc, rig.uffd.lastResult);
      }
      case "cont":
        return void this.#continue(op.a, op.b, op.wp, op.dw, opText(op));
      case "poison": {
        const rc = rig.uffd.tryPoison(rig.page(op.a), (op.b - op.a) * rig.ps, op.dw ? POISON_MODE.DONTWAKE : 0);
        return this.#match(opText(op), model.poison(op.a, op.b), rc, rig.uffd.lastResult);
      }
      case "move": {
        const base = this.#stamp + 1;
        for (let i = 0; i < op.b - op.a; i++) rig.stamp(rig.moveSrc, i, ++this.#stamp);
        const rc = rig.uffd.tryMove(rig.page(op.a), rig.moveSrc, (op.b - op.a) * rig.ps, op.dw ? MOVE_MODE.DONTWAKE : 0);
        return this.#match(
          opText(op),
          model.move(op.a, op.b, (k) => base + k),
          rc,
          rig.uffd.lastResult,
        );
      }
      case "wp":
        return void this.#writeProtect(op.a, op.b, op.on, op.dw, opText(op));
      case "touch":
        return this.#touch(op);
      case "alias": {
        if (!rig.mem.hasAlias) return;
        const stamp = ++this.#stamp;
        rig.stamp(rig.alias, op.p, stamp);
        const p = model.pages[op.p]!;
        p.cached = true;
        p.val = stamp;
        return;
      }
      case "madv":
        return this.#madvise(op);
      case "mremap":
        return this.#mremap(op);
      case "munmap":
        return this.#remapFresh(op);
      case "pagemap":
        return this.#pagemap(op.p);
      case "fork":
        return this.#fork(op.p);
      case "scan":
        return this.#scan();
    }
  }

  #copy(a: number, b: number, wp: boolean, dw: boolean, what: string): number {
    const { rig, model, plants } = this.#e;
    const base = this.#stamp + 1;
    for (let i = 0; i < b - a; i++) rig.stamp(rig.src, i, ++this.#stamp);
    const src = plants.copyWrongPage ? rig.src + rig.ps : rig.src;
    const mode = (wp ? COPY_MODE.WP : 0) | (dw ? COPY_MODE.DONTWAKE : 0);
    const rc = rig.uffd.tryCopy(rig.page(a), src, (b - a) * rig.ps, mode);
    this.#match(
      what,
      model.copy(a, b, wp, (k) => base + k),
      rc,
      rig.uffd.lastResult,
    );
    return rc;
  }

  #continue(a: number, b: number, wp: boolean, dw: boolean, what: string): number {
    const { rig, model } = this.#e;
    const mode = (wp ? CONTINUE_MODE.WP : 0) | (dw ? CONTINUE_MODE.DONTWAKE : 0);
    const rc = rig.uffd.tryContinue(rig.page(a), (b - a) * rig.ps, mode);
    this.#match(what, model.continue(a, b, wp), rc, rig.uffd.lastResult);
    return rc;
  }

  #writeProtect(a: number, b: number, on: boolean, dw: boolean, what: string): number {
    const { rig, model } = this.#e;
    const mode = (on ? WRITEPROTECT_MODE.WP : 0) | (dw ? WRITEPROTECT_MODE.DONTWAKE : 0);
    const rc = rig.uffd.tryWriteProtect(rig.page(a), (b - a) * rig.ps, mode);
    this.#match(what, model.writeProtect(a, b, on, dw), rc);
    return rc;
  }

  // ---- touches ------------------------------------------------------------

  async #touch(op: Extract<Op, { o: "touch" }>): Promise<void> {
    const { rig, model, toucher } = this.#e;
    const page = model.pages[op.p]!;
    if (op.w && this.#e.stepAround && staleHugetlbWp(rig, page)) {
      this.known.set(STALE_HUGETLB_WP, (this.known.get(STALE_HUGETLB_WP) ?? 0) + 1);
      return;
    }
    // A page that may be poisoned is read by the SIGBUS-safe scanner (a SIGBUS in JS kills the process).
    const scan = page.poison !== false;
    const write = op.w && !scan;
    const stamp = write ? ++this.#stamp : 0;
    const addr = rig.page(op.p);
    if (!write && page.pte !== true) model.faultAround(op.p);
    if (!scan) model.clearStaleMarker(op.p);
    toucher.send(scan ? TOUCH_OP.SCAN : write ? TOUCH_OP.WRITE : TOUCH_OP.READ, addr, { value: stamp, len: rig.ps });
    let faults = 0;
    let waited = 0;
    for (;;) {
      const steps = model.touchSteps(op.p, write);
      const w = toucher.wait(rig.uffd.fd, this.#e.waitMs);
      if (w.type === "timeout") {
        // A thread that is running (or waiting for a CPU) gets longer; one asleep with no message is stuck.
        waited += this.#e.waitMs;
        if (toucher.running() && waited < 10 * this.#e.waitMs) continue;
        const how = toucher.running() ? "still running (in a fault loop?)" : "asleep";
        this.#fail(
          `${opText(op)}: the access did not complete within ${waited} ms and no message came; the thread is ${how} (expected ${stepsText(steps)})`,
        );
      }
      if (w.type === "uffd") {
        for (const ev of rig.uffd.readEvents()) {
          const kind = this.#checkFault(ev, addr, steps, op);
          model.faulted(op.p, kind);
          if (++faults > 8) this.#fail(`${opText(op)}: more than 8 faults for one access`);
          this.#resolve(kind, op);
        }
        continue;
      }
      if (w.sigbus) {
        if (!steps.some((s) => s.kind === "sigbus")) this.#fail(`${opText(op)}: SIGBUS, expected ${stepsText(steps)}`);
        page.poison = true;
        page.pte = false;
        return;
      }
      if (!steps.some((s) => s.kind === "done")) this.#fail(`${opText(op)}: completed with no fault, expected ${stepsText(steps)}`);
      page.poison = false;
      const want = model.mapped(op.p);
      if (write) model.wrote(op.p, stamp);
      else if (!scan) {
        if (want !== undefined && want !== w.result) {
          this.#fail(`${opText(op)}: read ${hex(w.result)}, expected ${hex(want)}`);
        }
        page.val = w.result;
      }
      return;
    }
  }

  #checkFault(ev: UffdEvent, addr: number, steps: TouchStep[], op: Op): Fault {
    if (ev.type !== "pagefault") this.#fail(`${opText(op)}: a ${ev.type} event came during the access`);
    if (ev.address !== addr)
      this.#fail(`${opText(op)}: fault at 0x${ev.address.toString(16)}, expected the touched page 0x${addr.toString(16)}`);
    const tid = this.#e.threadId ? this.#e.toucher.tid : 0;
    if (ev.threadId !== tid) this.#fail(`${opText(op)}: fault message thread id ${ev.threadId}, expected ${tid}`);
    const ok = steps.find((s) => s.kind === ev.kind && "flags" in s && s.flags === ev.flags);
    if (!ok) this.#fail(`${opText(op)}: ${ev.kind} fault (flags ${ev.flags}), expected ${stepsText(steps)}`);
    return ev.kind;
  }

  /** The handler's answer to a fault, through the same checked calls as the operations. */
  #resolve(kind: Fault, op: Extract<Op, { o: "touch" }>): void {
    const { rig, model, plants } = this.#e;
    const p = op.p;
    const reg = model.pages[p]!.reg;
    const wpOk = (reg & MODE_BITS.wp) !== 0 && op.res === "copy-wp";
    const what = `${opText(op)}: the handler's`;
    let rc = 0;
    if (kind === "missing") {
      if (op.res === "zero" && rig.mem.offers.zeropage) {
        rc = rig.uffd.tryZeropage(rig.page(p), rig.ps, op.dw ? ZEROPAGE_MODE.DONTWAKE : 0);
        this.#match(`${what} zeropage`, model.zeropage(p, p + 1), rc, rig.uffd.lastResult);
      }
      // ZEROPAGE refuses an entry holding a uffd-wp marker: COPY fills it.
      if (op.res !== "zero" || !rig.mem.offers.zeropage || rc !== 0) rc = this.#copy(p, p + 1, wpOk, op.dw, `${what} copy`);
    } else if (kind === "minor") rc = this.#continue(p, p + 1, wpOk && this.#e.continueWp, op.dw, `${what} continue`);
    else rc = this.#writeProtect(p, p + 1, false, op.dw, `${what} unprotect`);
    // A call that failed woke nobody: wake the access so it faults again.
    if (rc !== 0 && !op.dw) rig.uffd.tryWake(rig.page(p), rig.ps);
    if (op.dw) {
      if (this.#e.toucher.poll()) this.#fail(`${what} ${kind} fault resolved with DONTWAKE: the access completed before any WAKE`);
      if (!plants.skipWake) rig.uffd.tryWake(rig.page(p), rig.ps);
    }
  }

  // ---- memory calls (from the toucher: they may wait for an event read) ----

  /**
   * Run a memory call, collecting the events it sends; returns its 0/-errno.
   * A call that may send an event waits until this thread reads it, so it
   * runs on the toucher; one that cannot (`direct`) runs here.
   */
  #memoryCall(op: Op, send: () => void, direct?: () => number): { rc: number; events: UffdEvent[] } {
    const { rig, toucher } = this.#e;
    if (direct) {
      const rc = direct();
      const late = rig.uffd.readEvents();
      return { rc, events: late };
    }
    send();
    const events: UffdEvent[] = [];
    for (;;) {
      const w = toucher.wait(rig.uffd.fd, this.#e.waitMs * 4);
      if (w.type === "timeout") this.#fail(`${opText(op)}: the call did not return within ${this.#e.waitMs * 4} ms`);
      if (w.type === "uffd") {
        for (const ev of rig.uffd.readEvents()) {
          if (ev.type === "pagefault") this.#fail(`${opText(op)}: a ${ev.kind} fault at 0x${ev.address.toString(16)} came during the call`);
          events.push(ev);
        }
        continue;
      }
      return { rc: w.result, events };
    }
  }

  /** The pages covered by remove/unmap events, checked against the registered runs the model expects. */
  #checkRangeEvents(op: Op, type: "remove" | "unmap", events: UffdEvent[], expected: Array<[number, number]>, optional = false): void {
    const { rig } = this.#e;
    const got = new Set<number>();
    for (const ev of events) {
      if (ev.type !== type) continue;
      for (let a = ev.start; a < ev.end; a += rig.ps) got.add((a - rig.base) / rig.ps);
    }
    const want = new Set<number>();
    for (const [a, b] of expected) for (let i = a; i < b; i++) want.add(i);
    const same = got.size === want.size && [...want].every((i) => got.has(i));
    if (!same && !(optional && got.size === 0)) {
      this.#fail(
        `${opText(op)}: ${type} events cover pages [${[...got].sort((x, y) => x - y).join(",")}], expected [${[...want].join(",")}]`,
      );
    }
  }

  #madvise(op: Extract<Op, { o: "madv" }>): void {
    const { rig, model, toucher } = this.#e;
    const len = (op.b - op.a) * rig.ps;
    const advice = op.rm ? MADV.REMOVE : MADV.DONTNEED;
    const direct = this.#e.events.remove ? undefined : () => rig.madviseErr(rig.page(op.a), len, advice);
    const { rc, events } = this.#memoryCall(op, () => toucher.send(TOUCH_OP.MADVISE, rig.page(op.a), { len, arg: advice }), direct);
    const want = !op.rm ? "0" : !rig.mem.fileBacked ? "EINVAL" : !rig.mem.shared && rig.mem.hugetlb ? "EACCES" : "0";
    if (errName(rc) !== want) this.#fail(`${opText(op)}: expected ${want}, got ${errName(rc)}`);
    const runs = want === "0" && this.#e.events.remove ? model.registeredRuns(op.a, op.b) : [];
    this.#checkRangeEvents(op, "remove", events, runs);
    if (events.some((e) => e.type !== "remove")) this.#fail(`${opText(op)}: an event other than remove came`);
    if (want !== "0") return;
    if (op.rm) model.remove(op.a, op.b);
    else model.dontneed(op.a, op.b, this.#e.wpUnpopulated);
  }

  #mremap(op: Op): void {
    const { rig, model, toucher, plants } = this.#e;
    // One mapping moves whole; an area split by its registrations is left where it is.
    if (!rig.canMove || !model.uniform()) return;
    const from = rig.base;
    const to = rig.otherPlace;
    const direct = this.#e.events.remap || this.#e.events.unmap ? undefined : () => rig.mremapTo(from, to);
    const { rc, events } = this.#memoryCall(op, () => toucher.send(TOUCH_OP.MREMAP, from, { len: rig.size, arg: to }), direct);
    if (rc !== 0) this.#fail(`${opText(op)}: expected 0, got ${errName(rc)}`);
    rig.moved();
    const registered = model.pages[0]!.reg !== 0;
    const remaps = events.filter((e) => e.type === "remap");
    const wantRemap = registered && this.#e.events.remap;
    if (
      wantRemap &&
      (remaps.length !== 1 ||
        remaps[0]!.type !== "remap" ||
        remaps[0]!.from !== from ||
        remaps[0]!.to !== to ||
        remaps[0]!.len !== rig.size)
    ) {
      this.#fail(
        `${opText(op)}: expected one remap event 0x${from.toString(16)} -> 0x${to.toString(16)} len ${rig.size}, got ${JSON.stringify(remaps)}`,
      );
    }
    if (!wantRemap && remaps.length) this.#fail(`${opText(op)}: a remap event came, none expected`);
    if (events.some((e) => e.type !== "remap" && e.type !== "unmap")) this.#fail(`${opText(op)}: an unexpected event came`);
    model.remapped(wantRemap);
    if (plants.dropWpAfterMremap && wantRemap && model.pages[0]!.reg & MODE_BITS.wp) {
      rig.uffd.tryWriteProtect(rig.base, rig.size, 0);
    }
  }

  #remapFresh(op: Extract<Op, { o: "munmap" }>): void {
    const { rig, model, toucher } = this.#e;
    const len = (op.b - op.a) * rig.ps;
    const direct = this.#e.events.unmap ? undefined : () => rig.mapFresh(op.a, op.b);
    const { rc, events } = this.#memoryCall(
      op,
      () =>
        toucher.send(TOUCH_OP.REMAP_FRESH, rig.page(op.a), {
          len,
          fd: rig.fd,
          flags: rig.viewFlags() | MAP.FIXED,
          offset: op.a * rig.ps,
        }),
      direct,
    );
    if (rc !== 0) this.#fail(`${opText(op)}: failed with ${errName(rc)}`);
    // One UNMAP per userfaultfd, carrying the whole munmap range.
    const unmaps = events.filter((e) => e.type === "unmap");
    const want = this.#e.events.unmap && model.registeredRuns(op.a, op.b).length > 0;
    const [start, end] = [rig.page(op.a), rig.page(op.b)];
    if (want && (unmaps.length !== 1 || unmaps[0]!.type !== "unmap" || unmaps[0]!.start !== start || unmaps[0]!.end !== end)) {
      this.#fail(`${opText(op)}: expected one unmap event 0x${start.toString(16)}-0x${end.toString(16)}, got ${JSON.stringify(unmaps)}`);
    }
    if (!want && unmaps.length) this.#fail(`${opText(op)}: an unmap event came, none expected`);
    if (events.some((e) => e.type !== "unmap")) this.#fail(`${opText(op)}: an event other than unmap came`);
    model.remappedFresh(op.a, op.b);
  }

  // ---- views of the page tables ---------------------------------------------

  #pagemap(i: number): void {
    const { rig, model } = this.#e;
    const entry = this.#e.pagemap.entry(rig.page(i));
    const p = model.pages[i]!;
    const wp = (entry & PAGEMAP.UFFD_WP) !== 0n;
    const present = (entry & PAGEMAP.PRESENT) !== 0n;
    if (p.poison === false && p.pte !== undefined && p.pte !== present) {
      this.#fail(`pagemap ${i}: present ${present}, expected ${p.pte}`);
    }
    if (p.wp !== undefined && p.wp !== wp) this.#fail(`pagemap ${i}: uffd-wp ${wp}, expected ${p.wp}`);
    if (p.poison === false) p.pte = present;
    p.wp = wp;
  }

  /** PAGEMAP_SCAN: a present page is "written" exactly when it carries no uffd-wp bit. */
  #scan(): void {
    const { rig, model, scanner } = this.#e;
    if (!scanner) return;
    const regions = scanner.scan({ start: rig.base, end: rig.base + rig.size, returnMask: PAGE_IS.WRITTEN | PAGE_IS.PRESENT });
    const cats = new Array<number>(model.pages.length).fill(0);
    for (const r of regions) for (let a = r.start; a < r.end; a += rig.ps) cats[(a - rig.base) / rig.ps] = r.categories;
    model.pages.forEach((p, i) => {
      const present = (cats[i]! & PAGE_IS.PRESENT) !== 0;
      if (!present || p.poison !== false) return;
      const wp = (cats[i]! & PAGE_IS.WRITTEN) === 0;
      if (p.pte === false) this.#fail(`pagemap-scan: page ${i} present, expected not`);
      if (p.wp !== undefined && p.wp !== wp)
        this.#fail(
          `pagemap-scan: page ${i} ${wp ? "not written (uffd-wp)" : "written (no uffd-wp)"}, expected ${p.wp ? "uffd-wp" : "no uffd-wp"}`,
        );
      p.pte = true;
      p.wp = wp;
    });
  }

  async #fork(i: number): Promise<void> {
    const { rig } = this.#e;
    const entry = await childPagemap(rig.page(i), { timeoutMs: 10_000 });
    // Without EVENT_FORK the child's mapping is not registered: no uffd-wp bit may reach it.
    if ((entry & PAGEMAP.UFFD_WP) !== 0n) this.#fail(`fork, child reads pagemap ${i}: the child's entry has uffd-wp set (no EVENT_FORK)`);
  }
}

function tryCall(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (typeof errno === "number") return -errno;
    throw e;
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

function stepsText(steps: TouchStep[]): string {
  if (steps.length === 0) return "nothing";
  return steps.map((s) => ("flags" in s ? `${s.kind} fault (flags ${s.flags})` : s.kind === "done" ? "no fault" : "SIGBUS")).join(" or ");
}
