// Waiting on promises that may never settle (a Worker stuck in the kernel never replies).

/** Settle `p` or give up after `ms`: undefined when it did not settle in time. */
export async function within<T>(p: Promise<T>, ms: number): Promise<{ ok: true; value: T } | { ok: false; error: unknown } | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([
      p.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects with the first rejection among `ps` (never resolves). */
export function firstRejection(ps: readonly Promise<unknown>[]): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    for (const x of ps) x.catch(reject);
  });
  p.catch(() => {});
  return p;
}
