// What the explore command asks of one memory-type process, and what it
// answers (one JSON line each way).
import type { ExploreStats, Finding } from "./explorer.ts";
import type { OpName, Sequence } from "./ops.ts";

export interface MemRequest {
  readonly mem: string;
  readonly seed: number;
  readonly runs?: number;
  readonly timeMs?: number;
  readonly ops: readonly OpName[];
  /** Run exactly this sequence once (a replay). */
  readonly replay?: Sequence;
  /** Step around known kernel findings. */
  readonly stepAround: boolean;
  /** A file the process writes each sequence into (replay form) before running it: what a crash was doing. */
  readonly lastFile?: string;
  /** Show progress on stderr (it is a terminal). */
  readonly progress: boolean;
}

export type MemAnswer =
  | { readonly status: "done"; readonly stats: ExploreStats; readonly finding?: Finding }
  | { readonly status: "skip"; readonly reason: string };

/** The answer line's prefix on stdout (anything else there is not ours). */
export const ANSWER_PREFIX = "EXPLORE-ANSWER ";
