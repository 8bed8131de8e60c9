// Cases for testing the verdicts themselves, present only with
// UFFD_SUITE_TEST_CASES=1 (as test-cases.ts): each throws one kind of error.
// Only a declared "feature/resource missing" condition (an explicit skip with
// a reason, MissingFeatureError naming a feature) may skip; anything else a
// case throws, or a clean-up throws, is a failure that names the error.
import { HandlerError } from "../harness/serve.ts";
import { Errno, SysError } from "../sys/errno.ts";
import { MissingFeatureError, UffdIoctlError } from "../uffd/errors.ts";
import { type CaseRun, CheckFailure, type UnitCase } from "./case.ts";

/** Name -> what the case throws, and the verdict it must get. */
export const THROWN: ReadonlyArray<readonly [string, "fail" | "skip", (t: CaseRun) => unknown]> = [
  [
    "thrown-sys-error",
    "fail",
    () => {
      throw new SysError("UFFDIO_REGISTER", Errno.EINVAL, "a call that should work");
    },
  ],
  [
    "thrown-ioctl-error",
    "fail",
    () => {
      throw new UffdIoctlError("UFFDIO_COPY", Errno.EAGAIN, 4096);
    },
  ],
  [
    "thrown-handler-error",
    "fail",
    () => {
      throw new HandlerError("fault at 0x1000 outside the destination");
    },
  ],
  ["thrown-type-error", "fail", () => (undefined as unknown as { x: () => void }).x()],
  [
    "thrown-rejection",
    "fail",
    async () => {
      await Promise.reject(new RangeError("out of range"));
    },
  ],
  [
    "thrown-string",
    "fail",
    () => {
      throw "a bare string";
    },
  ],
  [
    "thrown-undefined",
    "fail",
    () => {
      throw undefined;
    },
  ],
  [
    "thrown-check",
    "fail",
    () => {
      throw new CheckFailure("a check", ["a check: expected 1, seen 2"]);
    },
  ],
  [
    "thrown-in-clean-up",
    "fail",
    (t) => {
      t.defer(() => {
        throw new SysError("munmap", Errno.EINVAL);
      });
    },
  ],
  [
    "thrown-missing-nothing",
    "fail",
    () => {
      throw new MissingFeatureError([]);
    },
  ],
  ["thrown-blank-skip", "fail", (t) => t.skip("  ")],
  [
    "thrown-missing-feature",
    "skip",
    () => {
      throw new MissingFeatureError(["MOVE"]);
    },
  ],
  ["thrown-skip", "skip", (t) => t.skip("not enough HugeTLB pages (need 2, free 0)")],
];

export const thrownCases: readonly UnitCase[] = THROWN.map(([name, verdict, run]) => ({
  name,
  description: `test only: throws; must be a ${verdict}`,
  memory: "none",
  features: [],
  origin: "suite",
  run: async (t) => {
    await run(t);
  },
}));
