// System set-up for a unit run: huge pages for the hugetlb cases, reserved
// (as root) before the first case, topped up before each hugetlb case if
// something else on the machine took them back, and put back after the last.
import { hugepageState, reserveHugepages } from "../harness/hugetlb.ts";
import { meminfoKb } from "../harness/memory.ts";
import type { SettingChange } from "../harness/restore.ts";
import { log } from "../log.ts";

/** Unknown: 0 (reserve nothing). */
function memAvailableBytes(): number {
  return (meminfoKb("MemAvailable") ?? 0) * 1024;
}

export class HugepageSetup {
  readonly #allowed: boolean;
  readonly #changes: SettingChange[] = [];
  #refused = new Set<number>();

  /** `allowed`: --setup was given (the default); nothing is changed unless we are root. */
  constructor(opts: { allowed: boolean }) {
    this.#allowed = opts.allowed && process.getuid?.() === 0;
    if (opts.allowed && !this.#allowed) log.info(`not root: using the ${hugepageState().free} free huge pages as they are`);
  }

  /** Make sure `need` huge pages are free, if we may; failures are logged and the case then skips with the reason. */
  ensure(need: number): void {
    if (!this.#allowed || need <= 0 || this.#refused.has(need)) return;
    const st = hugepageState();
    if (st.free >= need) return;
    const avail = memAvailableBytes();
    if ((need - st.free) * st.size > avail / 2) {
      this.#refused.add(need);
      log.warn(`not reserving ${need} huge pages: that is more than half of the ${Math.round(avail / 2 ** 20)} MiB available`);
      return;
    }
    try {
      const change = reserveHugepages(need);
      if (!change) return;
      this.#changes.push(change);
      log.info(`nr_hugepages ${change.original} -> ${hugepageState().total} for the hugetlb cases (restored afterwards)`);
    } catch (e) {
      this.#refused.add(need);
      log.warn(`cannot reserve ${need} huge pages: ${(e as Error).message}`);
    }
  }

  /** Put nr_hugepages back as it was before the first change. */
  restore(): void {
    for (const c of this.#changes.splice(0).reverse()) c.dispose();
  }
}
