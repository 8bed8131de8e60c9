// System set-up for a unit run: huge pages for the hugetlb cases. As root the
// run adds its own share on top of nr_hugepages before the first case (what
// is free may be another run's), adds more before a hugetlb case if
// something else on the machine took them, and takes exactly its share off
// after the last; where its share cannot be had, its hugetlb cases skip
// naming why (refusal()). Anyone else, and --no-setup, uses what is free.
import { hugepageState, mayChangeSettings, reserveHugepages } from "./hugepages.ts";
import { Changes } from "./changes.ts";
import { SettingsBusyError, SettingsUnsafeError } from "./settings-journal.ts";
import { log } from "../log.ts";

export class HugepageSetup {
  readonly #allowed: boolean;
  readonly #changes = new Changes();
  #refused = new Map<number, string>();
  /** Another run held the settings lock past the wait once (said then; later tries do not wait again). */
  #busy = false;

  /** `allowed`: --setup was given (the default); nothing is changed unless we are root. */
  constructor(opts: { allowed: boolean }) {
    this.#allowed = mayChangeSettings(opts.allowed);
    if (opts.allowed && !this.#allowed) log.info(`not root: using the ${hugepageState().free} free huge pages as they are`);
  }

  /**
   * Make sure `need` huge pages are there for this run, if we may; failures
   * are logged and the case then skips with the reason (refusal()).
   */
  ensure(need: number): void {
    if (!this.#allowed || need <= 0 || this.#refused.has(need)) return;
    // The first time: this run's whole share on top; later, only what something else took.
    const st = hugepageState();
    const more = this.#changes.share === 0 ? need : need - st.free;
    if (more <= 0) return;
    try {
      const change = reserveHugepages(more);
      if (!change) return;
      this.#changes.add(change);
      log.info(
        `nr_hugepages ${change.original} -> ${Number(change.original) + more} (this run's ${more} for the hugetlb cases, taken off afterwards)`,
      );
    } catch (e) {
      const why = (e as Error).message;
      this.#refused.set(need, why);
      // An unusable state folder was said once at the start of the run, a busy lock the first time.
      const said = e instanceof SettingsUnsafeError || (e instanceof SettingsBusyError && this.#busy);
      if (e instanceof SettingsBusyError) this.#busy = true;
      if (said) log.debug(why);
      else log.warn(`cannot reserve ${more} huge pages: ${why}`);
    }
  }

  /** Why `need` huge pages could not be had (for the skip reason), if they were refused. */
  refusal(need: number): string | undefined {
    return this.#refused.get(need);
  }

  /** Take this run's share off nr_hugepages again. */
  restore(): void {
    this.#changes.dispose();
  }
}
