// close-wakes (ours): closing the uffd while a thread waits in a missing
// fault wakes it, and its access then completes as an ordinary fault. Where
// the memory has a second view (shmem, hugetlb shared), a byte is written
// into the page cache through it while the thread waits: the woken thread
// must read that byte; elsewhere it reads a zero page. Its progress counter
// shows it asleep until the close and done after it.
import { describeMismatch } from "../../harness/touch.ts";
import type { UffdTestContext } from "../../harness/context.ts";
import { Scratch } from "../../sys/mem.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { faultingReader, KIT_HUGEPAGES, kitContext, needFeatures, planted, touchMs, until } from "./beyond-kit.ts";

const ASLEEP_MS = 100;
const MARK = { offset: 100, value: 0x5a } as const;
const STEP = { faulted: 0, closed: 1 } as const;

/** What the woken reader must see: the byte written through the other view, or zeros. */
function expectedPage(t: CaseRun, ctx: UffdTestContext, viaAlias: boolean): Scratch {
  const ref = new Scratch(ctx.pageSize);
  t.defer(() => ref.dispose());
  if (viaAlias) ref.bytes[MARK.offset] = MARK.value;
  if (planted(t, "close-wakes")) ref.bytes[MARK.offset + 1] = 1;
  return ref;
}

async function closeWakes(t: CaseRun): Promise<void> {
  const features = needFeatures(t, []);
  const ctx = kitContext(t, features);
  const ps = ctx.pageSize;
  const page = 2;
  const at = ctx.dst.addr + page * ps;
  const viaAlias = ctx.dst.alias !== ctx.dst.addr;
  const ref = expectedPage(t, ctx, viaAlias);
  ctx.register({ missing: true });
  const progress = new Int32Array(new SharedArrayBuffer(16));

  const reader = await faultingReader(t, ctx, at, ref.addr, progress);
  if (viaAlias) {
    // Fill the page cache through the unregistered view (from another Worker).
    await ctx.touch(
      { start: ctx.dst.aliasOf(at), pages: 1, pageSize: ps, op: "write", offset: MARK.offset, value: MARK.value },
      { timeoutMs: touchMs() },
    );
  }
  const early = await until(() => Atomics.load(progress, 0) > 0, ASLEEP_MS);
  t.check(!early, "toucher before the uffd is closed", { expected: "asleep in the fault", seen: "its access completed" });

  Atomics.store(progress, 1, STEP.closed);
  ctx.uffd.close();
  const r = await reader.done;
  t.equal("step the toucher saw when its access completed (1: after close)", Atomics.load(progress, 2), STEP.closed);
  t.check(r.mismatches === 0, "page the woken toucher read", {
    expected: viaAlias ? `the page cache page: 0x${MARK.value.toString(16)} at ${MARK.offset}, zeros elsewhere` : "a zero page",
    seen: describeMismatch(r),
  });
  // The range is ordinary memory now: another missing page faults in without a handler.
  const next = await ctx.touch({ start: ctx.dst.addr + 5 * ps, pages: 1, pageSize: ps, op: "read" }, { timeoutMs: touchMs() });
  t.equal("pages read after close without a handler", next.touched, 1);
}

export const closeWakesCases: readonly UnitCase[] = [
  {
    name: "close-wakes",
    description: "closing the uffd wakes a thread waiting in a missing fault; it completes as an ordinary fault",
    memory: ALL_MEMORY,
    features: [],
    hugepages: KIT_HUGEPAGES,
    origin: "suite",
    run: closeWakes,
  },
];
