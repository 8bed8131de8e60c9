// Time limits inside a case (a forked child, a touch, a fault job) are written
// for the default case limit of 60 s. A longer --timeout (a slow machine, an
// emulator such as QEMU without KVM) stretches them in proportion, so an inner
// limit never fires long before the case's own. The case processes inherit the
// setting through the environment.
const ENV = "UFFD_SUITE_CASE_TIMEOUT_S";
const DEFAULT_CASE_S = 60;

/** Record the case limit (seconds) for this process and the case processes it starts. */
export function setCaseTimeout(seconds: number): void {
  process.env[ENV] = String(seconds);
}

/** `ms` (a limit meant for a 60 s case) scaled to the case limit in force; never shorter than `ms`. */
export function caseLimitMs(ms: number): number {
  const s = Number(process.env[ENV]);
  return Number.isFinite(s) && s > DEFAULT_CASE_S ? Math.round((ms * s) / DEFAULT_CASE_S) : ms;
}
