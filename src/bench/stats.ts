// Small statistics for bench figures.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Summary {
  /** µs per fault, per run. */
  readonly runs: readonly number[];
  readonly min: number;
  readonly median: number;
  readonly max: number;
  /** Faults per second at the median. */
  readonly faultsPerSec: number;
}

export function summarize(usPerFault: readonly number[]): Summary {
  const med = median(usPerFault);
  return {
    runs: usPerFault,
    min: Math.min(...usPerFault),
    median: med,
    max: Math.max(...usPerFault),
    faultsPerSec: med > 0 ? Math.round(1e6 / med) : 0,
  };
}
