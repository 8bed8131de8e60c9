// Features the kernel offers but refuses to this process: UFFDIO_API answers
// EPERM for them (EVENT_FORK needs CAP_SYS_PTRACE). Asked one feature at a
// time on throwaway fds, so an unprivileged run skips the cases that need one
// with the reason instead of failing them.
import { Errno, SysError } from "../sys/errno.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import { FEATURE, type FeatureName } from "../uffd/constants.ts";
import { Uffd } from "../uffd/uffd.ts";

const NEEDS: Partial<Record<FeatureName, string>> = { EVENT_FORK: "CAP_SYS_PTRACE" };

/** Each offered feature UFFDIO_API refuses with EPERM, with the reason a skip names. */
export function deniedFeatures(offered: FeatureSet): ReadonlyMap<FeatureName, string> {
  const denied = new Map<FeatureName, string>();
  for (const name of offered.known()) {
    let u: Uffd | undefined;
    try {
      u = Uffd.open({ nonBlocking: true });
      u.api(BigInt(FEATURE[name]));
    } catch (e) {
      if (e instanceof SysError && e.errno === Errno.EPERM) {
        const needs = NEEDS[name];
        denied.set(name, `${name} not permitted (UFFDIO_API: EPERM${needs ? `; needs ${needs}` : ""})`);
      }
    } finally {
      u?.close();
    }
  }
  return denied;
}
