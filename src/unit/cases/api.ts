// UFFDIO_API, on an fd from each creation path: a wrong API number and an
// unknown feature bit are rejected, a good call works and answers the ioctls,
// and a second call on the same fd is rejected.
import { Errno, errnoName, SysError } from "../../sys/errno.ts";
import { UFFD_API } from "../../uffd/constants.ts";
import { UffdPermissionError } from "../../uffd/errors.ts";
import { type OpenVia, Uffd } from "../../uffd/uffd.ts";
import type { CaseRun, UnitCase } from "../case.ts";

/** Run UFFDIO_API and return the errno it failed with (0: it succeeded). */
function apiErrno(u: Uffd, features: bigint, api = UFFD_API): number {
  try {
    u.api(features, api);
    return 0;
  } catch (e) {
    if (e instanceof SysError) return e.errno;
    throw e;
  }
}

function rejected(t: CaseRun, what: string, errno: number): void {
  const want = t.planted.plant.has("errno") ? Errno.EPERM : Errno.EINVAL;
  t.check(errno === want, what, {
    expected: `fails with ${errnoName(want)}`,
    seen: errno === 0 ? "succeeds" : `fails with ${errnoName(errno)}`,
  });
}

function apiCase(via: OpenVia): UnitCase {
  const label = via === "syscall" ? "syscall" : "/dev/userfaultfd";
  return {
    name: `UFFDIO_API (with ${label})`,
    description: `UFFDIO_API on a ${label} fd: bad api and unknown feature bit rejected, good call answers the ioctls, second call rejected`,
    memory: "none",
    features: [],
    origin: "kernel",
    run(t: CaseRun) {
      let u: Uffd;
      try {
        u = Uffd.open({ via });
      } catch (e) {
        // "no permission to create a userfaultfd (needs root, ...): /dev/userfaultfd: EACCES" names the path.
        t.skip(e instanceof UffdPermissionError ? e.message : `cannot open a userfaultfd with ${label}: ${(e as Error).message}`);
      }
      t.defer(() => u.close());
      rejected(t, "UFFDIO_API with api 0xab", apiErrno(u, 0n, 0xab));
      rejected(t, "UFFDIO_API with feature bit 63", apiErrno(u, 1n << 63n));
      const good = apiErrno(u, 0n);
      t.check(good === 0, "UFFDIO_API with api 0xaa, features 0", { expected: "succeeds", seen: `fails with ${errnoName(good)}` });
      for (const name of ["REGISTER", "UNREGISTER", "API"] as const) {
        t.check(u.ioctls.has(name), `ioctls answered by UFFDIO_API include ${name}`, {
          expected: `${name} set`,
          seen: u.ioctls.toString(),
        });
      }
      rejected(t, "second UFFDIO_API on the same fd (features PAGEFAULT_FLAG_WP)", apiErrno(u, 1n));
    },
  };
}

export const apiCases: readonly UnitCase[] = [apiCase("syscall"), apiCase("dev")];
