// poison: UFFDIO_POISON. The handler resolves odd pages with a copy of the
// (zeroed) source and poisons even ones; reading every page from a Worker,
// exactly the even pages must raise SIGBUS and the odd ones must read zero.
import { runFaultJob } from "../../harness/native-fault.ts";
import { bytesAt } from "../../sys/mem.ts";
import { ALL_MEMORY, type CaseRun, type UnitCase } from "../case.ts";
import { caseLimitMs } from "../../harness/limits.ts";
import { planted } from "./beyond-kit.ts";

const JOB_MS = 60_000;

async function poison(t: CaseRun): Promise<void> {
  const ctx = t.context();
  const ioctls = ctx.register({ missing: true });
  t.check(ioctls.has("COPY") && ioctls.has("POISON"), "ioctls offered on the registered range", {
    expected: "COPY and POISON",
    seen: ioctls.toString(),
  });
  // The source is not registered: this thread may write it.
  const src = bytesAt(ctx.src.addr, ctx.size);
  src.fill(0);
  if (t.planted.plant.has("content")) src[ctx.pageSize + 7] = 1;
  if (t.planted.plant.has("fault-count")) ctx.uffd.copy(ctx.dst.addr, ctx.src.addr, ctx.pageSize);

  const handlers = await ctx.startHandlers({ strategy: "poison" });
  let r;
  try {
    r = await runFaultJob(
      ctx,
      "poison-scan",
      { dst: ctx.dst.addr, pages: ctx.pages, pageSize: ctx.pageSize },
      { timeoutMs: caseLimitMs(JOB_MS) },
    );
  } finally {
    await ctx.stopHandlers();
  }
  const half = Math.floor(ctx.pages / 2);
  t.note(`${r.sigbus} of ${ctx.pages} pages raised SIGBUS; handler: ${handlers.counters.total("missing")} faults`);
  // Planted (tests only), one per count: that count's check expects one more.
  t.equal("pages whose read raised SIGBUS", r.sigbus, half + (planted(t, "sigbus-count") ? 1 : 0));
  const wrong = r.signalled.find((p) => p % 2 === 1);
  t.check(wrong === undefined, "only poisoned (even) pages raise SIGBUS", { expected: "even pages", seen: `page ${wrong}` });
  t.check(r.nonZero === 0, "odd pages read zero", {
    expected: 0,
    seen: r.firstNonZero
      ? `${r.nonZero} pages; page ${r.firstNonZero.page} byte ${r.firstNonZero.offset} is ${r.firstNonZero.value}`
      : r.nonZero,
  });
  t.equal(
    "faults the handler resolved (one per page)",
    handlers.counters.total("missing"),
    ctx.pages + (planted(t, "missing-count") ? 1 : 0),
  );
}

export const poisonCases: readonly UnitCase[] = [
  {
    name: "poison",
    description: "UFFDIO_POISON: poisoned pages raise SIGBUS, copied ones read zero",
    memory: ALL_MEMORY,
    features: ["POISON"],
    origin: "kernel",
    run: poison,
  },
];
