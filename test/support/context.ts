// A small UffdTestContext for one test, always disposed.
import { UffdTestContext } from "../../src/harness/context.ts";
import { MEMORY } from "../../src/harness/memory.ts";

export async function withContext(
  mem: "anon" | "shmem",
  opts: Parameters<typeof UffdTestContext.create>[1],
  fn: (ctx: UffdTestContext) => Promise<void>,
): Promise<void> {
  const ctx = UffdTestContext.create(MEMORY[mem], opts);
  try {
    await fn(ctx);
  } finally {
    await ctx.dispose();
  }
}
