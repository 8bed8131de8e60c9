// What `uffd-suite bench` measures: kinds of fault, memory, handler modes.
import type { FeatureName } from "../uffd/constants.ts";
import type { CounterName } from "../harness/counters.ts";
import { featuresFor, MEMORY } from "../harness/memory.ts";
import type { FaultStrategy } from "../harness/protocol.ts";
import type { RegisterModes } from "../uffd/uffd.ts";

export const KIND_NAMES = ["missing+copy", "missing+zeropage", "wp", "minor"] as const;
export type KindName = (typeof KIND_NAMES)[number];
export type BenchMem = "anon" | "shmem";
export const MODES = ["poll", "read"] as const;
export type BenchMode = (typeof MODES)[number];

export interface Kind {
  readonly name: KindName;
  /** The fault-bench.c --kind spelling. */
  readonly c: "copy" | "zeropage" | "wp" | "minor";
  readonly strategy: FaultStrategy;
  readonly register: RegisterModes;
  /** Faults arrive at the alias view (minor) or the destination. */
  readonly view: "dst" | "alias";
  readonly write: boolean;
  readonly counter: CounterName;
  /** Memory types the kind runs on. */
  readonly mems: readonly BenchMem[];
  features(mem: BenchMem): FeatureName[];
}

export const KINDS: Readonly<Record<KindName, Kind>> = {
  "missing+copy": {
    name: "missing+copy",
    c: "copy",
    strategy: "copy",
    register: { missing: true },
    view: "dst",
    write: false,
    counter: "missing",
    mems: ["anon", "shmem"],
    features: (mem) => needs(mem, "missing"),
  },
  "missing+zeropage": {
    name: "missing+zeropage",
    c: "zeropage",
    strategy: "zeropage",
    register: { missing: true },
    view: "dst",
    write: false,
    counter: "missing",
    mems: ["anon"],
    features: (mem) => needs(mem, "missing"),
  },
  wp: {
    name: "wp",
    c: "wp",
    strategy: "copy",
    register: { wp: true },
    view: "dst",
    write: true,
    counter: "wp",
    mems: ["anon"],
    features: (mem) => needs(mem, "wp"),
  },
  minor: {
    name: "minor",
    c: "minor",
    strategy: "copy",
    register: { minor: true },
    view: "alias",
    write: false,
    counter: "minor",
    mems: ["shmem"],
    features: (mem) => needs(mem, "minor"),
  },
};

/** The features `mem` needs for `kind` faults (harness/memory.ts's table). */
function needs(mem: BenchMem, kind: "missing" | "wp" | "minor"): FeatureName[] {
  const list = featuresFor(MEMORY[mem], kind);
  if (!list) throw new Error(`bench: ${mem} has no ${kind} faults`);
  return [...list];
}

/** One measured configuration. */
export interface Scenario {
  readonly kind: KindName;
  readonly mem: BenchMem;
  readonly mode: BenchMode;
  readonly pages: number;
  readonly faulters: number;
  readonly handlers: number;
}

export function scenarioLabel(s: Pick<Scenario, "kind" | "mem" | "mode">): string {
  return `${s.kind} ${s.mem} ${s.mode}`;
}
