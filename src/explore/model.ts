// What the kernel promises, page by page, for one explored area. Values are
// known or `undefined` ("not promised"): a check compares only what is known,
// and what the kernel then shows is learned. Only documented behaviour is
// known; the running kernel's features (probed) decide what applies.
import { Errno } from "../sys/errno.ts";
import { MODE_BITS } from "./ops.ts";

const { missing: MISSING, wp: WP, minor: MINOR } = MODE_BITS;

export interface PageState {
  /** Registration modes (MODE_BITS), 0 when unregistered. */
  reg: number;
  /** A page table entry maps a page in the registered view. */
  pte: boolean | undefined;
  /** The page's contents (a stamp, 0 for zeros) where pte is set (private types) or in the file (shared types). */
  val: number | undefined;
  /** Shared file types: the file holds a page here (undefined: not promised). */
  cached: boolean | undefined;
  /** The uffd-wp bit, on the entry or on a marker where none is mapped. */
  wp: boolean | undefined;
  /** A poison marker. */
  poison: boolean | undefined;
}

export interface ModelKind {
  /** shmem, shmem-private, hugetlb: contents live in the shared file. */
  readonly shared: boolean;
  readonly hugetlb: boolean;
  readonly anon: boolean;
  /** WP on an empty entry leaves a marker (file memory always; anon with WP_UNPOPULATED). */
  readonly markers: boolean;
  /** WP_ASYNC: a write to a protected page clears the bit itself, no message. */
  readonly wpAsync: boolean;
  /** WRITEPROTECT may span several mappings (probed; older kernels: ENOENT). */
  readonly wpAcrossMappings: boolean;
}

/** One acceptable outcome of an operation, with what it does to the model. */
export interface Choice {
  /** "0" or the errno name. */
  readonly err: string;
  /** The ioctl's result field, where it has one. */
  readonly result?: number;
  readonly apply: () => void;
}

export type Fault = "missing" | "wp" | "minor";
/** What a touch may do next: fault (of a kind), complete, or raise SIGBUS. */
export type TouchStep = { readonly kind: Fault; readonly flags: number } | { readonly kind: "done" } | { readonly kind: "sigbus" };

export const FLAG = { WRITE: 1, WP: 2, MINOR: 4 } as const;

export class Model {
  readonly pages: PageState[];
  readonly kind: ModelKind;
  readonly ps: number;
  /**
   * Whether a mapping (VMA) boundary lies before page i (index 1..n-1):
   * registrations split the area, and merging back is not promised.
   */
  readonly split: (boolean | undefined)[];

  constructor(n: number, kind: ModelKind, pageSize: number) {
    this.kind = kind;
    this.ps = pageSize;
    this.split = new Array<boolean | undefined>(n + 1).fill(false);
    this.pages = Array.from({ length: n }, () => ({
      reg: 0,
      pte: false,
      val: undefined,
      cached: kind.shared ? false : undefined,
      wp: false,
      poison: false,
    }));
  }

  #span(a: number, b: number): PageState[] {
    return this.pages.slice(a, b);
  }

  // ---- registration -------------------------------------------------------

  register(a: number, b: number, m: number, refused: string | undefined): Choice[] {
    if (refused) return [{ err: refused, apply: () => {} }];
    return [
      {
        err: "0",
        apply: () => {
          for (const p of this.#span(a, b)) {
            // A mapping already registered in (at least) these modes is left as it is; otherwise the modes are replaced.
            if ((p.reg & m) === m) continue;
            // Dropping WP mode by re-registering leaves the bits as they were: not promised.
            if (p.reg & WP && !(m & WP) && p.wp !== false) p.wp = undefined;
            p.reg = m;
          }
          this.#resplit(a, b);
        },
      },
    ];
  }

  /** After [a, b) changed: a boundary between different registrations is certain, between equal ones not promised. */
  #resplit(a: number, b: number): void {
    for (let i = Math.max(1, a); i <= Math.min(b, this.pages.length - 1); i++) {
      if (this.pages[i - 1]!.reg !== this.pages[i]!.reg) this.split[i] = true;
      else if (this.split[i] !== false) this.split[i] = undefined;
    }
  }

  /** Whether [a, b) may lie in more than one mapping: "yes", "maybe" or "no". */
  spans(a: number, b: number): "yes" | "maybe" | "no" {
    let maybe = false;
    for (let i = a + 1; i < b; i++) {
      if (this.split[i] === true) return "yes";
      if (this.split[i] === undefined) maybe = true;
    }
    return maybe ? "maybe" : "no";
  }

  unregister(a: number, b: number): Choice[] {
    return [
      {
        err: "0",
        apply: () => {
          for (const p of this.#span(a, b)) {
            // Unregistering a WP range clears its uffd-wp bits and markers.
            if (p.reg & WP) p.wp = false;
            p.reg = 0;
          }
          this.#resplit(a, b);
        },
      },
    ];
  }

  /** "" when [a, b) lies in one registered mapping; else the errno that range gives. */
  #oneRegistered(a: number, b: number, unregisteredErr = "ENOENT"): string {
    const span = this.#span(a, b);
    if (span.some((p) => p.reg === 0)) return unregisteredErr;
    if (span.some((p) => p.reg !== span[0]!.reg)) return unregisteredErr;
    if (this.spans(a, b) === "yes") return unregisteredErr;
    return "";
  }

  /** The refusal a range over a boundary that may or may not be there adds to the choices. */
  #maybeSplit(a: number, b: number, choices: Choice[], err = "ENOENT"): Choice[] {
    return this.spans(a, b) === "maybe" ? [...choices, { err, result: -errnoOf(err), apply: () => {} }] : choices;
  }

  // ---- filling ioctls (COPY, ZEROPAGE, CONTINUE, POISON, MOVE) ------------

  /**
   * The outcomes of a page-by-page fill: each page either takes the fill
   * (`fill`), stops it with an errno, or either (not promised). The call
   * stops at the first page that refuses: EEXIST/EFAULT there if it was the
   * first page, else EAGAIN with the bytes done in the result field.
   */
  #fill(a: number, b: number, stopAt: (p: PageState) => { err?: string; maybe?: boolean }, fill: (p: PageState) => void): Choice[] {
    const out: Choice[] = [];
    const done = (upTo: number, learnStop?: (p: PageState) => void) => () => {
      for (let i = a; i < upTo; i++) fill(this.pages[i]!);
      if (learnStop && upTo < b) learnStop(this.pages[upTo]!);
    };
    for (let i = a; i < b; i++) {
      const s = stopAt(this.pages[i]!);
      if (!s.err) continue;
      const bytes = (i - a) * this.ps;
      out.push(i === a ? { err: s.err, result: -errnoOf(s.err), apply: done(i) } : { err: "EAGAIN", result: bytes, apply: done(i) });
      if (!s.maybe) return out;
    }
    out.push({ err: "0", result: (b - a) * this.ps, apply: done(b) });
    return out;
  }

  copy(a: number, b: number, wp: boolean, stamps: (i: number) => number): Choice[] {
    const bad = this.#oneRegistered(a, b);
    if (bad) return [{ err: bad, result: -errnoOf(bad), apply: () => {} }];
    if (wp && !(this.pages[a]!.reg & WP)) return this.#maybeSplit(a, b, [{ err: "EINVAL", result: -errnoOf("EINVAL"), apply: () => {} }]);
    return this.#maybeSplit(
      a,
      b,
      this.#fill(
        a,
        b,
        (p) => this.#occupied(p, true),
        (p) => {
          const i = this.pages.indexOf(p);
          this.#install(p, stamps(i - a), wp);
        },
      ),
    );
  }

  zeropage(a: number, b: number): Choice[] {
    const bad = this.#oneRegistered(a, b);
    if (bad) return [{ err: bad, result: -errnoOf(bad), apply: () => {} }];
    if (this.kind.hugetlb) return this.#maybeSplit(a, b, [{ err: "EINVAL", result: -errnoOf("EINVAL"), apply: () => {} }]);
    // Anon ZEROPAGE wants an entry with nothing in it: a uffd-wp marker refuses.
    return this.#maybeSplit(
      a,
      b,
      this.#fill(
        a,
        b,
        (p) => {
          const occ = this.#occupied(p, true);
          if (occ.err && !occ.maybe) return occ;
          if (p.pte === false && p.wp !== false) return { err: "EEXIST", maybe: !(this.kind.anon && p.wp === true) };
          return occ;
        },
        (p) => this.#install(p, 0, false),
      ),
    );
  }

  continue(a: number, b: number, wp: boolean): Choice[] {
    const bad = this.#oneRegistered(a, b);
    if (bad) return [{ err: bad, result: -errnoOf(bad), apply: () => {} }];
    if (wp && !(this.pages[a]!.reg & WP)) return this.#maybeSplit(a, b, [{ err: "EINVAL", result: -errnoOf("EINVAL"), apply: () => {} }]);
    if (this.kind.anon) return this.#maybeSplit(a, b, [{ err: "EINVAL", result: -errnoOf("EINVAL"), apply: () => {} }]);
    if (!this.kind.shared) return this.#maybeSplit(a, b, [{ err: "EFAULT", result: -errnoOf("EFAULT"), apply: () => {} }]);
    return this.#maybeSplit(
      a,
      b,
      this.#fill(
        a,
        b,
        (p) => {
          if (p.cached === false) return { err: "EFAULT" };
          const occ = p.pte === true ? { err: "EEXIST" } : p.pte === undefined ? { err: "EEXIST", maybe: true } : {};
          if (p.cached === undefined) return { err: occ.err ?? "EFAULT", maybe: true };
          if (!occ.err && p.poison !== false) return { err: "EEXIST", maybe: true };
          return occ;
        },
        (p) => {
          p.pte = true;
          p.cached = true;
          p.poison = false;
          p.wp = wp;
        },
      ),
    );
  }

  poison(a: number, b: number): Choice[] {
    const bad = this.#oneRegistered(a, b);
    if (bad) return [{ err: bad, result: -errnoOf(bad), apply: () => {} }];
    // POISON needs an entry with nothing at all in it (a marker refuses too).
    return this.#maybeSplit(
      a,
      b,
      this.#fill(
        a,
        b,
        (p) => {
          if (p.pte === true || p.poison === true) return { err: "EEXIST" };
          if (p.pte === undefined || p.poison === undefined || p.wp !== false) return { err: "EEXIST", maybe: true };
          return {};
        },
        (p) => {
          p.pte = false;
          p.poison = true;
          p.wp = false;
        },
      ),
    );
  }

  move(a: number, b: number, stamps: (i: number) => number): Choice[] {
    const bad = this.#oneRegistered(a, b, "EINVAL");
    if (bad) {
      // A range running into another mapping: refused, the errno is not promised.
      const mixed = this.#span(a, b).some((p) => p.reg !== 0) || this.spans(a, b) === "yes";
      return mixed
        ? ["EINVAL", "ENOENT"].map((err) => ({ err, result: -errnoOf(err), apply: () => {} }))
        : [{ err: "EINVAL", result: -errnoOf("EINVAL"), apply: () => {} }];
    }
    // MOVE needs an empty entry: a present page or any marker refuses.
    const moved = this.#fill(
      a,
      b,
      (p) => {
        if (p.pte === true || p.poison === true || (p.wp === true && p.pte === false)) return { err: "EEXIST" };
        if (p.pte === undefined || p.poison === undefined || p.wp === undefined) return { err: "EEXIST", maybe: true };
        return {};
      },
      (p) => {
        const i = this.pages.indexOf(p);
        this.#install(p, stamps(i - a), false);
      },
    );
    return this.spans(a, b) === "maybe"
      ? [...moved, ...["EINVAL", "ENOENT"].map((err) => ({ err, result: -errnoOf(err), apply: () => {} }))]
      : moved;
  }

  /** Whether COPY/ZEROPAGE find the page taken (a present page, or a page in the file). */
  #occupied(p: PageState, markersFree: boolean): { err?: string; maybe?: boolean } {
    if (p.pte === true || (this.kind.shared && p.cached === true)) return { err: "EEXIST" };
    const unsure = p.pte === undefined || (this.kind.shared && p.cached === undefined) || (markersFree && p.poison !== false);
    return unsure ? { err: "EEXIST", maybe: true } : {};
  }

  #install(p: PageState, val: number, wp: boolean): void {
    p.pte = true;
    p.val = val;
    p.poison = false;
    p.wp = wp;
    if (this.kind.shared) p.cached = true;
  }

  // ---- write-protect ------------------------------------------------------

  writeProtect(a: number, b: number, on: boolean, dontWake: boolean): Choice[] {
    if (on && dontWake) return [{ err: "EINVAL", apply: () => {} }];
    const span = this.#span(a, b);
    const first = span.findIndex((p) => !(p.reg & WP));
    if (first === 0) return [{ err: "ENOENT", apply: () => {} }];
    if (!this.kind.wpAcrossMappings) {
      // One mapping only: anything else is refused whole.
      const whole = span.every((p) => p.reg === span[0]!.reg) ? this.spans(a, b) : "yes";
      if (whole === "yes") return [{ err: "ENOENT", apply: () => {} }];
      if (whole === "maybe") return [...this.#writeProtectIn(a, b, on, b), { err: "ENOENT", apply: () => {} }];
    }
    return this.#writeProtectIn(a, b, on, first < 0 ? b : a + first);
  }

  /** WRITEPROTECT applied to [a, upTo): ENOENT where upTo stops short of b. */
  #writeProtectIn(a: number, b: number, on: boolean, upTo: number): Choice[] {
    const first = upTo < b ? upTo - a : -1;
    const apply = () => {
      for (let i = a; i < upTo; i++) {
        const p = this.pages[i]!;
        if (!on) p.wp = false;
        else if (p.pte === true) p.wp = true;
        else if (p.poison !== false) p.wp = undefined;
        else if (this.kind.markers) p.wp = true;
        else if (p.pte === undefined) p.wp = undefined;
      }
    };
    return [{ err: first < 0 ? "0" : "ENOENT", apply }];
  }

  // ---- touches ------------------------------------------------------------

  /** The possible next steps of a touch of page i. */
  touchSteps(i: number, write: boolean): TouchStep[] {
    const p = this.pages[i]!;
    const w = write ? FLAG.WRITE : 0;
    const steps: TouchStep[] = [];
    if (p.poison !== false) steps.push({ kind: "sigbus" });
    if (p.poison === true) return steps;
    const wpFault = (): TouchStep[] => {
      if (!write || !(p.reg & WP) || this.kind.wpAsync) return [{ kind: "done" }];
      if (p.wp === true) return [{ kind: "wp", flags: FLAG.WP | FLAG.WRITE }];
      if (p.wp === undefined) return [{ kind: "wp", flags: FLAG.WP | FLAG.WRITE }, { kind: "done" }];
      return [{ kind: "done" }];
    };
    if (p.pte === true) return [...steps, ...wpFault()];
    // Nothing mapped (or not promised).
    const present = this.kind.shared ? p.cached : false;
    if (present === false && p.reg & MISSING) steps.push({ kind: "missing", flags: w });
    else if (present === true && p.reg & MINOR) steps.push({ kind: "minor", flags: FLAG.MINOR | w });
    else if (present === undefined) {
      if (p.reg & MISSING) steps.push({ kind: "missing", flags: w });
      if (p.reg & MINOR) steps.push({ kind: "minor", flags: FLAG.MINOR | w });
      steps.push(...wpFault());
    } else steps.push(...wpFault());
    if (p.pte === undefined) steps.push(...wpFault());
    return dedupe(steps);
  }

  /**
   * A touch mapped the page without a fault (or after one was resolved): what
   * it reads, learned where unknown. Returns the value it must read, or
   * undefined when not promised.
   */
  mapped(i: number): number | undefined {
    const p = this.pages[i]!;
    if (this.kind.shared) {
      // A hole reads as a fresh zero page in the file.
      if (p.cached === false) p.val = 0;
      else if (p.cached === undefined) p.val = undefined;
      p.cached = true;
    } else if (p.pte === false) p.val = 0;
    else if (p.pte === undefined) p.val = undefined;
    p.pte = true;
    return p.val;
  }

  /**
   * A read fault on a shared non-hugetlb mapping first maps what the file
   * already holds around the page ("fault-around"), unless the mapping is
   * registered for WP or minor faults: those neighbours may now be mapped.
   */
  faultAround(i: number): void {
    if (!this.kind.shared || this.kind.hugetlb) return;
    const reg = this.pages[i]!.reg;
    if (reg & (WP | MINOR)) return;
    for (const dir of [-1, 1]) {
      for (let j = i + dir; j >= 0 && j < this.pages.length && this.pages[j]!.reg === reg; j += dir) {
        const p = this.pages[j]!;
        if (p.cached !== false && p.pte === false) p.pte = undefined;
      }
    }
  }

  /** A write of `stamp` completed on page i. */
  wrote(i: number, stamp: number): void {
    const p = this.pages[i]!;
    p.pte = true;
    p.val = stamp;
    if (this.kind.shared) p.cached = true;
    p.poison = false;
    // A write that completed on a WP-registered page found no enforced uffd-wp
    // bit. A bit left from an earlier WP registration (re-registering without
    // WP keeps it) may sit on a writable entry, so unknown stays unknown.
    if (p.reg & WP && p.wp === true) p.wp = false;
    else if (p.wp !== false) p.wp = undefined;
  }

  /**
   * A touch reaches a uffd-wp marker where the mapping is no longer
   * WP-registered: the fault clears the marker first (not on hugetlb).
   */
  clearStaleMarker(i: number): void {
    const p = this.pages[i]!;
    if (!this.kind.hugetlb && p.pte === false && !(p.reg & WP) && p.wp !== false) p.wp = false;
  }

  /** A touch raised a fault of this kind: learn what that shows. */
  faulted(i: number, kind: Fault): void {
    const p = this.pages[i]!;
    p.poison = false;
    if (kind === "wp") {
      p.wp = true;
      if (p.pte !== true) this.mapped(i);
    } else {
      p.pte = false;
      if (this.kind.shared) p.cached = kind === "minor";
    }
  }

  // ---- memory calls -------------------------------------------------------

  /** MADV_DONTNEED: the entries go; private contents go with them. */
  dontneed(a: number, b: number, wpUnpopulated: boolean): void {
    for (const p of this.#span(a, b)) {
      const hadWp = p.wp;
      const hadPte = p.pte;
      p.pte = false;
      if (!this.kind.shared) p.val = undefined;
      if (p.poison !== false) p.poison = undefined;
      if (this.kind.anon) p.wp = wpUnpopulated && p.reg & WP ? (hadWp === false ? false : undefined) : false;
      // File memory: a marker stays where it is; a mapped page's uffd-wp bit
      // becomes a marker where the mapping is WP-registered.
      // (hugetlb keeps the bit as a marker even where the mapping is no longer WP-registered).
      else if (hadPte === false || p.reg & WP || this.kind.hugetlb) p.wp = hadWp;
      else p.wp = hadWp === false ? false : undefined;
    }
  }

  /** MADV_REMOVE (shared file types): the file's pages go too. */
  remove(a: number, b: number): void {
    for (const p of this.#span(a, b)) {
      p.pte = false;
      p.cached = false;
      p.val = undefined;
      if (p.poison !== false) p.poison = undefined;
      if (p.wp !== false) p.wp = undefined;
    }
  }

  /** The area moved: without EVENT_REMAP it leaves its registration (and uffd-wp bits) behind. */
  remapped(keepsRegistration: boolean): void {
    for (const p of this.pages) {
      if (!keepsRegistration) {
        p.reg = 0;
        p.wp = false;
      }
      if (this.kind.shared && p.pte !== false) p.pte = undefined;
    }
  }

  /** munmap then a fresh mapping of the same thing: nothing registered, nothing mapped. */
  remappedFresh(a: number, b: number): void {
    for (const p of this.#span(a, b)) {
      p.reg = 0;
      p.pte = false;
      p.wp = false;
      p.poison = false;
      if (!this.kind.shared) p.val = undefined;
    }
    for (let i = a + 1; i < b; i++) this.split[i] = false;
    // The new mapping may or may not merge with its neighbours.
    for (const i of [a, b]) if (i > 0 && i < this.pages.length) this.split[i] = undefined;
    this.#resplit(a, a);
    this.#resplit(b, b);
  }

  /** Ranges [a, b) of registered pages in [a, b), split where the registration changes. */
  registeredRuns(a: number, b: number): Array<[number, number]> {
    const runs: Array<[number, number]> = [];
    for (let i = a; i < b; i++) {
      if (this.pages[i]!.reg === 0) continue;
      const last = runs.at(-1);
      if (last && last[1] === i && this.pages[i - 1]!.reg === this.pages[i]!.reg) last[1] = i + 1;
      else runs.push([i, i + 1]);
    }
    return runs;
  }

  /** The area is one mapping for sure. */
  uniform(): boolean {
    return this.spans(0, this.pages.length) === "no";
  }
}

function dedupe(steps: TouchStep[]): TouchStep[] {
  const seen = new Set<string>();
  return steps.filter((s) => {
    const k = `${s.kind}:${"flags" in s ? s.flags : ""}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function errnoOf(name: string): number {
  return Errno[name] ?? 0;
}
