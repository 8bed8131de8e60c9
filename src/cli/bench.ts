// `uffd-suite bench`: µs per fault through the handler Worker, optionally
// against the C reference (--vs-c). Figures go to stdout; progress to stderr.
import type { CommandDef } from "citty";
import { allowedCpus, inCpuList, MAX_CPUS } from "../bench/affinity.ts";
import { type BenchOptions, DEFAULTS, runBench } from "../bench/bench.ts";
import { formatReport } from "../bench/format.ts";
import { KIND_NAMES, type KindName, MODES, type BenchMode } from "../bench/kinds.ts";
import { EXIT } from "./exit.ts";
import { UsageError } from "./usage-error.ts";

function count(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`--${name} wants a whole number >= ${min}, not '${v}'`);
  }
  return Number(v);
}

function list<T extends string>(name: string, v: string | undefined, all: readonly T[], dflt: readonly T[]): T[] {
  if (v === undefined) return [...dflt];
  const items = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.find((s) => !(all as readonly string[]).includes(s));
  if (bad !== undefined || items.length === 0) {
    throw new UsageError(`--${name} takes a comma list of ${all.join(", ")}${bad ? `, not '${bad}'` : ""}`);
  }
  return items as T[];
}

/** --pin: a CPU the mask can name and this process may run on. */
function pinCpu(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const allowed = allowedCpus();
  const cpu = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(cpu < MAX_CPUS) || inCpuList(allowed, cpu) === false) {
    throw new UsageError(`--pin wants a whole number below ${MAX_CPUS} among the cpus allowed (${allowed}), not '${v}'`);
  }
  return cpu;
}

const args = {
  "vs-c": { type: "boolean", description: "Also build bench/fault-bench.c with cc and run it alternately with Bun; print bun/c ratios" },
  json: { type: "boolean", description: "Print one JSON object instead of text" },
  pages: { type: "string", description: "Faults (4 KiB pages) per run (default 65536)" },
  runs: { type: "string", description: "Timed runs per case; with --vs-c, pairs of runs (default 5)" },
  warmup: { type: "string", description: "Untimed runs per case before the timed ones (default 3; each C process does at most 1)" },
  kinds: { type: "string", description: `Comma list of ${KIND_NAMES.join(", ")} (default all)` },
  modes: { type: "string", description: "Comma list of handler modes: poll (poll+read), read (blocking read) (default both)" },
  pin: { type: "string", description: "Pin every thread, Bun's and C's, to this CPU (else as started, e.g. under taskset)" },
  scaling: {
    type: "boolean",
    description: "Add the scaling table: 1, 2, 4 faulting Workers against 1 and 2 handlers (missing+copy anon poll)",
  },
  "c-loop": {
    type: "string",
    description:
      "C handler loop: selftest (poll, read one message; as uffd-common.c) or batch (read first, 64 per read; as serve.ts) (default selftest)",
  },
} as const;

const bench: CommandDef<typeof args> = {
  meta: {
    name: "bench",
    description:
      "Measure µs per userfaultfd fault through the handler Worker (missing+copy, missing+zeropage, wp, minor; poll and blocking read)",
  },
  args,
  async run({ args: a }) {
    const loop = a["c-loop"] ?? DEFAULTS.cLoop;
    if (loop !== "selftest" && loop !== "batch") throw new UsageError(`--c-loop wants selftest or batch, not '${loop}'`);
    const o: BenchOptions = {
      ...DEFAULTS,
      pages: count("pages", a.pages, DEFAULTS.pages, 1),
      runs: count("runs", a.runs, DEFAULTS.runs, 1),
      warmup: count("warmup", a.warmup, DEFAULTS.warmup, 0),
      kinds: list<KindName>("kinds", a.kinds, KIND_NAMES, DEFAULTS.kinds),
      modes: list<BenchMode>("modes", a.modes, MODES, DEFAULTS.modes),
      pin: pinCpu(a.pin),
      vsC: Boolean(a["vs-c"]),
      scaling: Boolean(a.scaling),
      cLoop: loop,
    };
    if (o.scaling && o.pages < 4) throw new UsageError("--scaling needs --pages >= 4");
    const report = await runBench(o, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(a.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return EXIT.OK;
  },
};

export default bench;
