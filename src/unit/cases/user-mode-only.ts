// user-mode-only (ours): a uffd made with UFFD_USER_MODE_ONLY handles only
// faults taken in user mode. The kernel reading a missing registered page
// (write(pipe, page, n) from a toucher Worker) must fail with EFAULT and
// raise no message, while a user-mode read of the same page does fault.
// Without the flag (root, or CAP_SYS_PTRACE) the same kernel access is a
// fault the test thread resolves, and the write completes with the page's
// bytes.
import type { UffdTestContext } from "../../harness/context.ts";
import { Errno, errnoName, lastErrno } from "../../sys/errno.ts";
import { close, pipe } from "../../sys/fd.ts";
import { libc } from "../../sys/libc.ts";
import { bytesAt, Scratch } from "../../sys/mem.ts";
import { UffdPermissionError } from "../../uffd/errors.ts";
import type { UffdEvent } from "../../uffd/events.ts";
import { Uffd } from "../../uffd/uffd.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import {
  hex,
  KIT_HUGEPAGES,
  kitContext,
  messagesWithin,
  needFeatures,
  pending,
  planted,
  readMessages,
  showEvent,
  touchMs,
  until,
} from "./beyond-kit.ts";

const N = 64;

function result(rc: number | undefined): string {
  return rc === undefined ? "no result" : rc < 0 ? errnoName(-rc) : `${rc} bytes`;
}

/** What is in the pipe (non-blocking read), as bytes. */
function drain(fd: number, buf: Scratch): { n: number; errno: number } {
  const n = libc.read(fd, buf.addr, buf.size);
  return n < 0 ? { n: 0, errno: lastErrno() } : { n, errno: 0 };
}

/** write(pipe, page, N) in a Worker; resolve its fault through `u` if one comes. The call's result and every message seen. */
async function kernelRead(ctx: UffdTestContext, u: Uffd, page: number, wfd: number): Promise<{ rc?: number; msgs: UffdEvent[] }> {
  const ps = ctx.pageSize;
  const at = ctx.dst.addr + page * ps;
  const call = pending(ctx.touch({ start: at, pages: 1, pageSize: ps, op: "write-fd", fd: wfd, len: N }, { timeoutMs: touchMs() }));
  const msgs: UffdEvent[] = [];
  await until(() => {
    msgs.push(...u.readEvents());
    return msgs.length > 0 || call.settled();
  }, touchMs());
  if (msgs[0]?.type === "pagefault") u.copy(at, ctx.src.addr + page * ps, ps);
  const r = await call.done;
  msgs.push(...(await messagesWithin(u, 20)));
  return { rc: r.rc, msgs };
}

async function userModeOnly(t: CaseRun): Promise<void> {
  const features = needFeatures(t, []);
  const ctx = kitContext(t, features, { userModeOnly: true });
  if (!ctx.uffd.userModeOnly) t.skip("UFFD_USER_MODE_ONLY not supported (Linux 5.11+)");
  const ps = ctx.pageSize;
  const [rfd, wfd] = pipe();
  const buf = new Scratch(N);
  t.defer(() => {
    close(rfd);
    close(wfd);
    buf.dispose();
  });
  ctx.register({ missing: true });

  // 1. User-mode-only: the kernel's access fails, nothing reaches the uffd.
  const um = await kernelRead(ctx, ctx.uffd, 1, wfd);
  const wantUm = planted(t, "user-mode-only") ? N : -Errno.EFAULT;
  t.check(um.rc === wantUm, "write(pipe, missing page) with UFFD_USER_MODE_ONLY", { expected: result(wantUm), seen: result(um.rc) });
  t.check(um.msgs.length === 0, "messages for that kernel access", { expected: "none", seen: um.msgs.map(showEvent).join("; ") });
  const left = drain(rfd, buf);
  t.check(left.errno === Errno.EAGAIN, "pipe after the failed write", {
    expected: "empty",
    seen: left.errno ? errnoName(left.errno) : `${left.n} bytes`,
  });
  // A user-mode read of that page still faults.
  const user = pending(ctx.touch({ start: ctx.dst.addr + ps, pages: 1, pageSize: ps, op: "read" }, { timeoutMs: touchMs() }));
  const msgs = await readMessages(ctx.uffd, 1, touchMs());
  t.check(msgs[0]?.type === "pagefault" && msgs[0].address === ctx.dst.addr + ps, "a user-mode read of the same page", {
    expected: `pagefault at ${hex(ctx.dst.addr + ps)}`,
    seen: msgs.map(showEvent).join("; ") || "none",
  });
  if (msgs[0]?.type === "pagefault") ctx.uffd.copy(ctx.dst.addr + ps, ctx.src.addr + ps, ps);
  await user.done;

  // 2. Without the flag: the kernel's access is a fault we resolve, and the write completes.
  ctx.uffd.unregister(ctx.dstRange);
  let full: Uffd;
  try {
    full = Uffd.create({ features, userModeOnly: false });
  } catch (e) {
    if (e instanceof UffdPermissionError) t.skip("a uffd for kernel-mode faults needs CAP_SYS_PTRACE (or vm.unprivileged_userfaultfd=1)");
    throw e;
  }
  try {
    t.check(!full.userModeOnly, "uffd opened without UFFD_USER_MODE_ONLY", { expected: "kernel faults handled", seen: "user mode only" });
    full.register(ctx.dstRange, { missing: true });
    const page = 3;
    const k = await kernelRead(ctx, full, page, wfd);
    const at = ctx.dst.addr + page * ps;
    const m = k.msgs[0];
    t.check(
      k.msgs.length === 1 && m?.type === "pagefault" && m.address === at && !m.write,
      "messages for write(pipe, missing page) without the flag",
      {
        expected: `one read pagefault at ${hex(at)}`,
        seen: k.msgs.map(showEvent).join("; ") || "none",
      },
    );
    t.check(k.rc === N, "write(pipe, page) after the fault was resolved", { expected: result(N), seen: result(k.rc) });
    const got = drain(rfd, buf);
    const want = bytesAt(ctx.src.addr + page * ps, N);
    const same = got.n === N && buf.bytes.subarray(0, N).every((b, i) => b === want[i]);
    t.check(same, "bytes in the pipe", {
      expected: `${N} bytes, the start of source page ${page}`,
      seen: got.errno ? errnoName(got.errno) : `${got.n} bytes${got.n === N ? ", different" : ""}`,
    });
  } finally {
    full.close();
  }
}

export const userModeOnlyCases: readonly UnitCase[] = [
  {
    name: "user-mode-only",
    description:
      "UFFD_USER_MODE_ONLY: a kernel access (write from the page to a pipe) gets EFAULT, no fault; without it the fault is served",
    memory: ALL_MEMORY,
    features: [],
    hugepages: KIT_HUGEPAGES,
    origin: "suite",
    run: userModeOnly,
  },
];
