// register-ioctls: every combination of missing/wp/minor modes on one page.
// No mode, and minor on anon, must fail with EINVAL; every other combination
// must answer WAKE plus COPY (missing), WRITEPROTECT (wp), CONTINUE (minor).
import { pageSizeOf } from "../../harness/memory.ts";
import { Errno, errnoName, SysError } from "../../sys/errno.ts";
import type { IoctlName } from "../../uffd/constants.ts";
import { ALL_MEMORY, type UnitCase } from "../case.ts";

/** Pages per area: only the first destination page is registered, inside a larger area as in the C. */
const AREA_PAGES = 2;

export const registerCases: readonly UnitCase[] = [
  {
    name: "register-ioctls",
    description:
      "UFFDIO_REGISTER in all 8 mode combinations: none and minor-on-anon give EINVAL, others answer WAKE+COPY/WRITEPROTECT/CONTINUE",
    memory: ALL_MEMORY,
    features: ["MISSING_HUGETLBFS", "MISSING_SHMEM", "PAGEFAULT_FLAG_WP", "WP_HUGETLBFS_SHMEM", "MINOR_HUGETLBFS", "MINOR_SHMEM"],
    // The source's reservation (it is never filled); the destination is MAP_NORESERVE and never faulted.
    hugepages: AREA_PAGES,
    origin: "kernel",
    run(t) {
      const ctx = t.context({ size: AREA_PAGES * pageSizeOf(t.mem!), initSource: false });
      const range = { start: ctx.dst.addr, len: ctx.pageSize };
      for (const missing of [false, true]) {
        for (const wp of [false, true]) {
          for (const minor of [false, true]) {
            const modes = `missing=${+missing} wp=${+wp} minor=${+minor}`;
            let errno = 0;
            let ioctls;
            try {
              ioctls = ctx.uffd.register(range, { missing, wp, minor });
            } catch (e) {
              if (!(e instanceof SysError)) throw e;
              errno = e.errno;
            }
            const mustFail = (minor && t.mem!.name === "anon") || (!missing && !wp && !minor);
            if (mustFail) {
              const want = t.planted.plant.has("errno") ? Errno.EPERM : Errno.EINVAL;
              t.check(errno === want, `UFFDIO_REGISTER (${modes})`, {
                expected: `fails with ${errnoName(want)}`,
                seen: errno === 0 ? `succeeds (ioctls ${ioctls})` : `fails with ${errnoName(errno)}`,
              });
              if (errno === 0) ctx.uffd.unregister(range);
              continue;
            }
            t.check(errno === 0, `UFFDIO_REGISTER (${modes})`, { expected: "succeeds", seen: `fails with ${errnoName(errno)}` });
            const want: IoctlName[] = ["WAKE"];
            if (missing) want.push("COPY");
            if (wp) want.push("WRITEPROTECT");
            if (minor) want.push("CONTINUE");
            if (t.planted.plant.has("ioctls")) want.push("API");
            const lacking = want.filter((n) => !ioctls!.has(n));
            t.check(lacking.length === 0, `ioctls answered by UFFDIO_REGISTER (${modes})`, {
              expected: `at least ${want.join("|")}`,
              seen: `${ioctls} (lacking ${lacking.join("|")})`,
            });
            ctx.uffd.unregister(range);
          }
        }
      }
    },
  },
];
