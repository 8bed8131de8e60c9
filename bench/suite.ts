// `npm run bench:suite`: what a tester waits for, the whole run. For each row
// (`unit --origin kernel`, `unit`, `run`, `stress anon 128 32 --no-wp`,
// `wp-mremap`, `--version`) runs dist/uffd-suite 5 times and prints the
// median wall time, CPU time (user+sys of the process and every descendant it
// waited for), peak RSS (sum over the process tree, sampled every 100 ms), and
// for the rows with cases side by side the speed-up of the default over
// `--jobs 1`. With UFFD_C_DIR set to a folder holding the C selftests
// (uffd-unit-tests, uffd-stress, uffd-wp-mremap) each row runs alternately
// with its C program, and the ratio ours/C is printed. The load of the
// machine is printed before and after: on a busy machine the figures are noise.
//
// Usage: bun bench/suite.ts [--rounds N] [--only SUBSTR]   (as root)
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { reserveHugepages } from "../src/machine/hugepages.ts";

const ROOT = join(import.meta.dir, "..");
const BIN = join(ROOT, "dist/uffd-suite");

interface Row {
  readonly name: string;
  readonly args: readonly string[];
  /** Runs with `--jobs 1` as well, for the speed-up. */
  readonly jobs: boolean;
  /** The C program and its arguments, and the huge pages it wants reserved (run_vmtests does that for it). */
  readonly c?: { readonly prog: string; readonly args: readonly string[]; readonly hugepages: number };
}

const ROWS: readonly Row[] = [
  {
    name: "unit --origin kernel",
    args: ["unit", "--origin", "kernel"],
    jobs: true,
    c: { prog: "uffd-unit-tests", args: [], hugepages: 64 },
  },
  { name: "unit", args: ["unit"], jobs: true },
  { name: "run", args: ["run"], jobs: true },
  // The C program lost write-protect stress in 6.17: ours without it, to compare like with like.
  {
    name: "stress anon 128 32 --no-wp",
    args: ["stress", "anon", "128", "32", "--no-wp"],
    jobs: false,
    c: { prog: "uffd-stress", args: ["anon", "128", "32"], hugepages: 0 },
  },
  { name: "wp-mremap", args: ["wp-mremap"], jobs: false, c: { prog: "uffd-wp-mremap", args: [], hugepages: 0 } },
  { name: "--version", args: ["--version"], jobs: false },
];

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly peakRssMiB: number;
  readonly code: number | null;
}

/** Sum of RSS (MiB) of `pid` and all its descendants, from /proc. */
function treeRssMiB(pid: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(f[1]);
      rss.set(Number(d), (Number(f[21]) * 4096) / 2 ** 20);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  let sum = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    sum += rss.get(p) ?? 0;
    todo.push(...(children.get(p) ?? []));
  }
  return sum;
}

async function measure(cmd: readonly string[]): Promise<Sample> {
  const t0 = performance.now();
  const p = Bun.spawn([...cmd], { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, treeRssMiB(p.pid));
  }, 100);
  const code = await p.exited;
  clearInterval(sampler);
  const wallMs = performance.now() - t0;
  const ru = p.resourceUsage();
  const cpuMs = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1000 : Number.NaN;
  // A run shorter than one sample: its own maximum (bytes in Bun's report).
  if (peak === 0 && ru) peak = Number(ru.maxRSS) / 2 ** 20;
  return { wallMs, cpuMs, peakRssMiB: peak, code };
}

/** The C program with the huge pages it wants reserved around it (and put back). */
async function measureC(dir: string, c: NonNullable<Row["c"]>): Promise<Sample> {
  const change = c.hugepages > 0 ? reserveHugepages(c.hugepages) : undefined;
  try {
    return await measure([join(dir, c.prog), ...c.args]);
  } finally {
    change?.dispose();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function summary(xs: readonly Sample[]): string {
  const bad = xs.filter((x) => x.code !== 0 && x.code !== 4).length;
  return (
    `wall ${fmtMs(median(xs.map((x) => x.wallMs))).padStart(9)}  cpu ${fmtMs(median(xs.map((x) => x.cpuMs))).padStart(9)}  ` +
    `peak rss ${median(xs.map((x) => x.peakRssMiB))
      .toFixed(0)
      .padStart(5)} MiB${bad ? `  (${bad} runs exited non-zero)` : ""}`
  );
}

function options(): { rounds: number; only?: string } {
  try {
    const { values } = parseArgs({
      options: { rounds: { type: "string" }, only: { type: "string" } },
      strict: true,
      allowPositionals: false,
    });
    const rounds = values.rounds === undefined ? 5 : Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds wants a whole number >= 1, not '${values.rounds}'`);
    return { rounds, only: values.only };
  } catch (e) {
    process.stderr.write(`bench/suite.ts: ${(e as Error).message}\n`);
    process.exit(2);
  }
}

const { rounds, only } = options();
if (!existsSync(BIN)) {
  process.stderr.write(`bench/suite.ts: ${BIN} missing (npm run build)\n`);
  process.exit(2);
}
const cDir = process.env.UFFD_C_DIR;
if (cDir !== undefined && !existsSync(cDir)) {
  process.stderr.write(`bench/suite.ts: UFFD_C_DIR=${cDir} does not exist\n`);
  process.exit(2);
}
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
console.log(`# bench:suite: ${rounds} rounds per row, medians; load average before: ${load()}; CPUs: ${navigator.hardwareConcurrency}`);
for (const row of ROWS) {
  if (only !== undefined && !row.name.includes(only)) continue;
  const c = cDir !== undefined && row.c && existsSync(join(cDir, row.c.prog)) ? row.c : undefined;
  const ours: Sample[] = [];
  const serial: Sample[] = [];
  const theirs: Sample[] = [];
  // Alternately, so a change in the machine's speed hits every variant alike.
  for (let r = 0; r < rounds; r++) {
    ours.push(await measure([BIN, ...row.args]));
    if (row.jobs) serial.push(await measure([BIN, ...row.args, "--jobs", "1"]));
    if (c) theirs.push(await measureC(cDir!, c));
  }
  console.log(`${row.name.padEnd(28)} ${summary(ours)}`);
  if (row.jobs) {
    console.log(`${`  ... --jobs 1`.padEnd(28)} ${summary(serial)}`);
    console.log(
      `${"  speed-up of the default".padEnd(28)} ${(median(serial.map((x) => x.wallMs)) / median(ours.map((x) => x.wallMs))).toFixed(2)}x`,
    );
  }
  if (c) {
    console.log(`${`  C ${c.prog} ${c.args.join(" ")}`.padEnd(28)} ${summary(theirs)}`);
    console.log(`${"  ours/C wall".padEnd(28)} ${(median(ours.map((x) => x.wallMs)) / median(theirs.map((x) => x.wallMs))).toFixed(2)}`);
  }
}
console.log(`# load average after: ${load()}`);
