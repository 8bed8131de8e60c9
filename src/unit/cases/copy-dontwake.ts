// copy-dontwake (ours): UFFDIO_COPY with MODE_DONTWAKE maps the page but
// leaves the faulting thread asleep; a WAKE on another page does not wake it
// either, only a WAKE on its range does. The toucher Worker's progress
// counter (a SharedArrayBuffer) shows it still waiting after the COPY, and
// records what the test's step counter held when its access completed: the
// step after the WAKE was issued, never before.
import { describeMismatch } from "../../harness/touch.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { faultingReader, hex, KIT_HUGEPAGES, kitContext, messagesWithin, needFeatures, planted, showEvent, until } from "./beyond-kit.ts";

/** How long a thread that must stay asleep is watched. */
const ASLEEP_MS = 150;
const STEP = { faulted: 0, copied: 1, wokeOther: 2, woke: 3 } as const;

async function copyDontwake(t: CaseRun): Promise<void> {
  const features = needFeatures(t, []);
  const ctx = kitContext(t, features);
  const ps = ctx.pageSize;
  const page = 2;
  const at = ctx.dst.addr + page * ps;
  ctx.register({ missing: true });
  // [0] pages done, [1] the test's step, [2] the step seen when the access completed.
  const progress = new Int32Array(new SharedArrayBuffer(16));
  const done = () => Atomics.load(progress, 0);
  const setStep = (s: number) => Atomics.store(progress, 1, s);

  const reader = await faultingReader(t, ctx, at, ctx.src.addr + page * ps, progress);

  setStep(STEP.copied);
  t.equal("UFFDIO_COPY with MODE_DONTWAKE (bytes)", ctx.uffd.copy(at, ctx.src.addr + page * ps, ps, { dontWake: true }), ps);
  const wokeEarly = await until(() => done() > 0, ASLEEP_MS);
  t.check(!wokeEarly, "toucher after COPY with MODE_DONTWAKE", { expected: "still asleep", seen: "its access completed" });

  setStep(STEP.wokeOther);
  const other = ctx.dst.addr + 5 * ps;
  ctx.uffd.wake({ start: other, len: ps });
  const wokeByOther = await until(() => done() > 0, ASLEEP_MS);
  t.check(!wokeByOther, `toucher after UFFDIO_WAKE of another page (${hex(other)})`, {
    expected: "still asleep",
    seen: "its access completed",
  });

  setStep(STEP.woke);
  ctx.uffd.wake({ start: at, len: ps });
  const r = await reader.done;
  const seen = Atomics.load(progress, 2);
  const want = planted(t, "copy-dontwake") ? STEP.wokeOther : STEP.woke;
  t.check(seen === want, "step the toucher saw when its access completed", {
    expected: `${want} (${Object.keys(STEP)[want]})`,
    seen: `${seen} (${Object.keys(STEP)[seen] ?? "?"})`,
  });
  t.check(r.mismatches === 0, "page read after the wake", { expected: "the source page", seen: describeMismatch(r) });
  const more = await messagesWithin(ctx.uffd, 20);
  t.check(more.length === 0, "messages after the wake", { expected: "none (no second fault)", seen: more.map(showEvent).join("; ") });
}

export const copyDontwakeCases: readonly UnitCase[] = [
  {
    name: "copy-dontwake",
    description: "COPY with MODE_DONTWAKE leaves the faulting thread asleep until a WAKE on its range; progress proves the order",
    memory: ALL_MEMORY,
    features: [],
    hugepages: KIT_HUGEPAGES,
    origin: "suite",
    run: copyDontwake,
  },
];
