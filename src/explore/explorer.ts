// Explore one memory type: fast-check draws sequences (seeded), each runs
// against the kernel and the model; a divergence is shrunk to a shortest
// sequence that still shows it.
import fc from "fast-check";
import { sequenceArb } from "./arbitrary.ts";
import { encodeReplay, type OpName, type Sequence, sequenceText } from "./ops.ts";
import type { ExplorePlants } from "./plants.ts";
import { runSequence, type Target } from "./session.ts";

export interface ExploreOptions {
  readonly seed: number;
  /** Sequences to run; or run until `timeMs` has passed. */
  readonly runs?: number;
  readonly timeMs?: number;
  readonly ops: readonly OpName[];
  readonly plants: ExplorePlants;
  /** Step around known kernel findings (default true). */
  readonly stepAround?: boolean;
  /** Called before each sequence (the isolating parent keeps the last one). */
  readonly onSequence?: (seq: Sequence) => void;
  readonly onProgress?: (s: ExploreStats) => void;
}

export interface ExploreStats {
  sequences: number;
  ops: number;
  ms: number;
  /** Divergences that did not happen again when re-run. */
  unreproduced?: number;
  notes: string[];
  /** Known kernel findings stepped around: name -> times. */
  known: Record<string, number>;
}

function addKnown(stats: ExploreStats, known: ReadonlyMap<string, number>): void {
  for (const [k, n] of known) stats.known[k] = (stats.known[k] ?? 0) + n;
}

export interface Finding {
  readonly seed: number;
  /** The shrunk sequence and the divergence it shows. */
  readonly sequence: Sequence;
  readonly step: number;
  readonly text: string;
  readonly lines: string[];
  readonly replay: string;
  /** Operations in the sequence first found, before shrinking. */
  readonly foundOps: number;
  readonly shrinks: number;
}

export interface ExploreResult {
  readonly stats: ExploreStats;
  readonly finding?: Finding;
}

const BATCH = 50;

export async function explore(t: Target, o: ExploreOptions): Promise<ExploreResult> {
  const started = performance.now();
  const stats: ExploreStats = { sequences: 0, ops: 0, ms: 0, notes: [], known: {} };
  const around = { stepAround: o.stepAround ?? true };
  const arb = sequenceArb(t, o.ops);
  let lastDivergence: { step: number; text: string } | undefined;
  let firstOps = 0;
  let shrinking = false;
  let shrinks = 0;
  const prop = fc.asyncProperty(arb, async (seq) => {
    o.onSequence?.(seq);
    const r = await runSequence(t, seq, o.plants, around);
    addKnown(stats, r.known);
    stats.sequences++;
    stats.ops += r.ops;
    stats.ms = performance.now() - started;
    o.onProgress?.(stats);
    if (r.divergence) {
      if (!shrinking) firstOps = seq.ops.length;
      else shrinks++;
      shrinking = true;
      lastDivergence = r.divergence;
      return false;
    }
    return true;
  });
  const deadline = o.timeMs === undefined ? Infinity : started + o.timeMs;
  let left = o.runs ?? Infinity;
  for (let batch = 0; left > 0 && performance.now() < deadline; batch++) {
    const seed = (o.seed + batch) | 0;
    const numRuns = Math.min(BATCH, left);
    left -= numRuns;
    const details = await fc.check(prop, { seed, numRuns, endOnFailure: false });
    if (details.failed && details.counterexample) {
      const shrunk = details.counterexample[0] as Sequence;
      // Run the shrunk sequence again for its own divergence, and drop what follows it.
      let again = await runSequence(t, shrunk, o.plants, around);
      for (let i = 0; i < 3 && !again.divergence; i++) again = await runSequence(t, shrunk, o.plants, around);
      if (!again.divergence) {
        // Not reproducible: something outside the sequence (a THP setting another run switched?) changed.
        stats.unreproduced = (stats.unreproduced ?? 0) + 1;
        stats.notes.push(`seed ${seed}: a divergence did not reproduce (${lastDivergence?.text}); exploring on`);
        shrinking = false;
        continue;
      }
      const d = again.divergence;
      const seq = { ...shrunk, ops: shrunk.ops.slice(0, d.step) };
      stats.ms = performance.now() - started;
      return {
        stats,
        finding: {
          seed,
          sequence: seq,
          step: d.step,
          text: d.text,
          lines: [...sequenceText(seq), `-> step ${d.step}: ${d.text}`],
          replay: encodeReplay(t.mem.name, seq),
          foundOps: firstOps,
          shrinks,
        },
      };
    }
    if (details.failed) throw new Error(`fast-check stopped: ${String(details.errorInstance ?? "failed")}`);
  }
  stats.ms = performance.now() - started;
  return { stats };
}

/** Run one sequence as given (a replay). */
export async function replay(t: Target, seq: Sequence, plants: ExplorePlants): Promise<ExploreResult> {
  const started = performance.now();
  // A replay shows what it carries: known findings are not stepped around.
  const r = await runSequence(t, seq, plants, { stepAround: false });
  const stats: ExploreStats = { sequences: 1, ops: r.ops, ms: performance.now() - started, notes: [], known: {} };
  if (!r.divergence) return { stats };
  const d = r.divergence;
  return {
    stats,
    finding: {
      seed: 0,
      sequence: seq,
      step: d.step,
      text: d.text,
      lines: [...sequenceText(seq), `-> step ${d.step}: ${d.text}`],
      replay: encodeReplay(t.mem.name, seq),
      foundOps: seq.ops.length,
      shrinks: 0,
    },
  };
}
