// How long a case may wait for a child it forks: a share of the case's own
// time limit (`unit --timeout`, exported by the runner to its case
// processes), so a slow machine (QEMU without KVM) given a longer limit gets
// longer child waits too, and a stuck child is still reported with its stage
// before the runner's limit ends the case.
export const CASE_LIMIT_ENV = "UFFD_SUITE_CASE_LIMIT_MS";

/** `share` of the case limit, or `fallbackMs` where no limit was handed down (the default 60 s gives the fallback). */
export function childLimitMs(share: number, fallbackMs: number, env: Record<string, string | undefined> = process.env): number {
  const limit = Number(env[CASE_LIMIT_ENV]);
  return Number.isFinite(limit) && limit > 0 ? Math.max(fallbackMs, Math.round(limit * share)) : fallbackMs;
}
