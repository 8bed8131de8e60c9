// Errors of the userfaultfd layer.
import { errnoName, SysError } from "../sys/errno.ts";
import type { FeatureSet } from "./bits.ts";
import type { FeatureName } from "./constants.ts";

/**
 * A resolving ioctl (COPY, ZEROPAGE, CONTINUE, POISON, MOVE) failed. `result`
 * is the signed result field the kernel wrote: -errno, or the bytes done
 * before it stopped (then errno is EAGAIN); `done` is that byte count or 0.
 */
export class UffdIoctlError extends SysError {
  readonly result: number;
  readonly done: number;

  constructor(call: string, errno: number, result: number, detail?: string) {
    const seen = result < 0 ? `result ${errnoName(-result)}` : `${result} bytes done`;
    super(call, errno, detail ? `${detail}, ${seen}` : seen);
    this.result = result;
    this.done = Math.max(result, 0);
  }
}

/** The kernel lacks features the caller requires. */
export class MissingFeatureError extends Error {
  override readonly name = "MissingFeatureError";
  readonly missing: readonly FeatureName[];

  constructor(missing: readonly FeatureName[]) {
    super(`userfaultfd feature${missing.length > 1 ? "s" : ""} missing: ${missing.join(", ")}`);
    this.missing = missing;
  }
}

/** Throw MissingFeatureError naming what `want` asks for that `available` lacks. */
export function requireFeatures(available: FeatureSet, want: readonly FeatureName[]): void {
  const missing = available.missing(want);
  if (missing.length > 0) throw new MissingFeatureError(missing);
}

/** No way to create a userfaultfd with the caller's privileges. */
export class UffdPermissionError extends Error {
  override readonly name = "UffdPermissionError";
  constructor(detail: string) {
    super(`no permission to create a userfaultfd (needs root, vm.unprivileged_userfaultfd=1 or access to /dev/userfaultfd): ${detail}`);
  }
}
