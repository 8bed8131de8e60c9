// `uffd-suite explore [--mem LIST] [--seed N] [--runs N | --time 10m] [--ops LIST]
// [--replay ENC] [--format ktap|json] [--no-setup]`: random operation sequences
// against a model of what userfaultfd promises, per memory type; a divergence
// is shrunk to a shortest sequence and printed with a replay line.
import type { CommandDef } from "citty";
import { hostname, machine, release } from "node:os";
import { MEMORY_NAMES, type MemoryName, memoryType } from "../harness/memory.ts";
import { handleSignals, signalExitCode } from "../machine/signals.ts";
import { recoverAbandonedSettings } from "../machine/settings-journal.ts";
import { log } from "../log.ts";
import { KtapSink } from "../report/ktap.ts";
import type { Status } from "../report/result.ts";
import { HugepageSetup } from "../machine/hugepage-setup.ts";
import { runIsolated, type Isolated } from "../explore/isolate.ts";
import { decodeReplay, OP_NAMES, type OpName, type Sequence } from "../explore/ops.ts";
import { parseCount, parseDuration, parseMemList, parseOpList } from "../explore/options.ts";
import { hugepagesNeeded } from "../explore/session.ts";
import { EXIT } from "./exit.ts";
import { UsageError } from "./usage-error.ts";
import { VERSION } from "./version.ts";

const args = {
  mem: { type: "string", valueHint: "LIST", description: `Memory types, comma-separated (default all: ${MEMORY_NAMES.join(",")})` },
  seed: { type: "string", valueHint: "N", description: "Seed of the first batch of sequences (default: random, printed)" },
  runs: { type: "string", valueHint: "N", description: "Sequences per memory type (instead of --time)" },
  time: { type: "string", valueHint: "DURATION", description: "Time per memory type: 60s, 10m, 1h (default 10s)" },
  ops: { type: "string", valueHint: "LIST", description: `Operations to draw from (default all: ${OP_NAMES.join(",")})` },
  replay: { type: "string", valueHint: "ENCODED", description: "Run one sequence as printed on a divergence's replay line" },
  format: { type: "string", valueHint: "ktap|json", description: "ktap (default) or json (one document, with the sequences)" },
  known: {
    type: "boolean",
    default: true,
    description: "Step around known kernel findings (listed with how often they were met)",
    negativeDescription: "Report known kernel findings as divergences too",
  },
  setup: {
    type: "boolean",
    default: true,
    description: "Reserve huge pages for the hugetlb types (as root), restoring them after",
    negativeDescription: "Change nothing: hugetlb types use the free huge pages or skip",
  },
} as const;

interface Plan {
  readonly mems: MemoryName[];
  readonly seed: number;
  readonly runs?: number;
  readonly timeMs?: number;
  readonly ops: OpName[];
  readonly replay?: Sequence;
  readonly json: boolean;
  readonly stepAround: boolean;
}

function plan(a: {
  mem?: string;
  seed?: string;
  runs?: string;
  time?: string;
  ops?: string;
  replay?: string;
  format?: string;
  known?: boolean;
}): Plan {
  const stepAround = a.known !== false;
  const use = <T>(v: T | string): T => {
    if (typeof v === "string") throw new UsageError(v);
    return v;
  };
  if (a.format !== undefined && a.format !== "ktap" && a.format !== "json")
    throw new UsageError(`--format must be ktap or json, not '${a.format}'`);
  if (a.runs !== undefined && a.time !== undefined) throw new UsageError("give --runs or --time, not both");
  const json = a.format === "json";
  const ops = a.ops === undefined ? [...OP_NAMES] : use(parseOpList(a.ops));
  if (a.replay !== undefined) {
    if (a.mem !== undefined || a.runs !== undefined || a.time !== undefined || a.seed !== undefined) {
      throw new UsageError("--replay runs the sequence it carries: it takes no --mem, --seed, --runs or --time");
    }
    let r;
    try {
      r = decodeReplay(a.replay);
    } catch (e) {
      throw new UsageError(`--replay: ${(e as Error).message}`);
    }
    const mems = use(parseMemList(r.mem));
    return { mems, seed: 0, ops, replay: r.seq, json, stepAround };
  }
  const mems = a.mem === undefined ? [...MEMORY_NAMES] : use(parseMemList(a.mem));
  const seed = a.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : use(parseCount("--seed", a.seed.replace(/^0$/, "1")));
  const runs = a.runs === undefined ? undefined : use(parseCount("--runs", a.runs));
  let timeMs: number | undefined;
  if (a.time !== undefined) {
    timeMs = parseDuration(a.time);
    if (timeMs === undefined) throw new UsageError(`--time wants a duration like 60s, 10m or 1h, not '${a.time}'`);
  } else if (runs === undefined) timeMs = 10_000;
  return { mems, seed, runs, timeMs, ops, json, stepAround };
}

function rate(stats: { ops: number; ms: number }): number {
  return stats.ms > 0 ? Math.round((stats.ops * 1000) / stats.ms) : 0;
}

/** KTAP diagnostics and status of one memory type's answer; reason: a skip's why, or a failure's directive. */
function describe(mem: string, r: Isolated, p: Plan): { status: Status; reason?: string; lines: string[] } {
  if (r.status === "skip") return { status: "skip", reason: r.reason, lines: [] };
  if (r.status === "crash") {
    const again = p.replay ? "" : ` (uffd-suite explore --mem ${mem} --seed ${p.seed} --runs 50 repeats that batch)`;
    return {
      status: "fail",
      reason: r.reason,
      lines: [
        `${mem}: the explore process ${r.reason}${again}`,
        ...r.stderr.map((l) => (l.startsWith("the sequence") ? l : `stderr: ${l}`)),
      ],
    };
  }
  const s = r.stats;
  const head = `${mem}: ${s.sequences} sequences, ${s.ops} operations in ${(s.ms / 1000).toFixed(1)} s: ${rate(s)} ops/s${p.replay ? "" : ` (seed ${p.seed})`}`;
  const notes = [
    ...s.notes.map((n) => `${mem}: ${n}`),
    ...Object.entries(s.known ?? {}).map(([k, n]) => `${mem}: known kernel finding stepped around ${n} times: ${k}`),
  ];
  if (!r.finding) return { status: "pass", lines: [head, ...notes] };
  const f = r.finding;
  return {
    status: "fail",
    lines: [
      head,
      ...notes,
      p.replay
        ? `${mem}: the replayed sequence diverges`
        : `${mem}: divergence in the batch of seed ${f.seed}; shrunk from ${f.foundOps} to ${f.sequence.ops.length} operations (${f.shrinks} smaller failing sequences tried)`,
      ...f.lines,
      `replay: uffd-suite explore --replay '${f.replay}'`,
    ],
  };
}

const explore: CommandDef<typeof args> = {
  meta: {
    name: "explore",
    description: "Random userfaultfd operation sequences checked against a model of its promises; divergences shrunk and replayable",
  },
  args,
  async run({ args: a }) {
    const p = plan(a);
    recoverAbandonedSettings();
    const write = (t: string) => process.stdout.write(t);
    const ktap = new KtapSink(p.json ? () => {} : write);
    let interrupted: NodeJS.Signals | undefined;
    handleSignals((sig, stopped) => {
      interrupted = sig;
      process.exitCode = signalExitCode(sig);
      if (!p.json) write("Bail out! interrupted\n");
      void stopped.finally(() => process.exit(signalExitCode(sig)));
    });
    const setup = new HugepageSetup({ allowed: a.setup });
    const progress = !p.json && process.stderr.isTTY === true;
    const started = new Date().toISOString();
    const results: unknown[] = [];
    ktap.plan(p.mems.length);
    try {
      for (const mem of p.mems) {
        if (interrupted) break;
        setup.ensure(hugepagesNeeded(memoryType(mem)));
        const limit = (p.timeMs ?? 600_000) + 120_000;
        const r = await runIsolated(
          { mem, seed: p.seed, runs: p.runs, timeMs: p.timeMs, ops: p.ops, replay: p.replay, progress, stepAround: p.stepAround },
          limit,
        );
        if (interrupted) break;
        const d = describe(mem, r, p);
        ktap.result({ name: `explore on ${mem}`, part: "explore", memory: mem, status: d.status, reason: d.reason, diagnostics: d.lines });
        if (d.lines[0] && r.status === "done") log.info(d.lines[0]);
        results.push({
          memory: mem,
          result: d.status,
          ...(d.reason ? { reason: d.reason } : {}),
          ...(r.status === "done" ? { seed: p.seed, opsPerSecond: rate(r.stats), ...r } : r),
          diagnostics: d.lines,
        });
      }
    } finally {
      setup.restore();
    }
    if (interrupted) return signalExitCode(interrupted);
    if (p.json) {
      const doc = {
        tool: "uffd-suite",
        version: VERSION,
        command: "explore",
        kernel: { release: release(), arch: machine() },
        hostname: hostname(),
        started,
        seed: p.seed,
        ...(p.replay ? { replay: true } : {}),
        memories: results,
        summary: ktap.counts,
      };
      write(`${JSON.stringify(doc, null, 2)}\n`);
    } else ktap.totals();
    if (ktap.counts.fail > 0) return EXIT.FAIL;
    return ktap.counts.pass === 0 ? EXIT.NOTHING_RAN : EXIT.OK;
  },
};

export default explore;
