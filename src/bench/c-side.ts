// The C reference: bench/fault-bench.c, embedded as text, written to a temp
// folder and built with the machine's `cc` when the bench runs (a compiled
// binary holds no file a compiler could read: /$bunfs paths are not files).
// The folder goes when the build is disposed, at exit and on a signal; one
// left by a bench killed with SIGKILL (its name holds the pid) is removed by
// the next bench.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import source from "../../bench/fault-bench.c" with { type: "text" };
import { onInterrupt } from "../machine/signals.ts";
import type { RunFigure } from "./bun-side.ts";
import { KINDS, type Scenario, scenarioLabel } from "./kinds.ts";

/** The handler loop the C program runs (see fault-bench.c). */
export type CLoop = "selftest" | "batch";

export interface CBuild {
  readonly bin: string;
  readonly buildMs: number;
  dispose(): void;
}

/** The compiler to use: $CC, else `cc` on PATH; undefined where there is none. */
export function findCc(): string | undefined {
  const want = process.env.CC?.trim() || "cc";
  return Bun.which(want) ?? undefined;
}

export class CBuildError extends Error {
  override readonly name = "CBuildError";
}

/** Build folders not yet removed, and C processes still running: an interrupt takes both. */
const liveDirs = new Set<string>();
const liveProcs = new Set<Bun.Subprocess>();
let hooked = false;

/**
 * On SIGINT/SIGTERM/SIGHUP, kill the C process and remove the build folder;
 * machine/signals.ts then exits (with no exit callback from handleSignals, the first
 * signal ends the process once the listeners have run).
 */
function hookInterrupt(): void {
  if (hooked) return;
  hooked = true;
  const removeAll = () => {
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    liveDirs.clear();
  };
  onInterrupt(() => {
    for (const p of liveProcs) p.kill("SIGKILL");
    removeAll();
  });
  process.on("exit", removeAll);
}

const PREFIX = "uffd-suite-bench-";

/** Remove build folders of benches that died without removing them (their pid no longer runs). */
function sweepAbandoned(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(/^uffd-suite-bench-(\d+)-/.exec(n)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(tmpdir(), n), { recursive: true, force: true });
    }
  }
}

export function buildC(cc: string): CBuild {
  hookInterrupt();
  sweepAbandoned();
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  liveDirs.add(dir);
  const dispose = () => {
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  try {
    const file = join(dir, "fault-bench.c");
    const bin = join(dir, "fault-bench");
    writeFileSync(file, source, { mode: 0o600 });
    const t0 = performance.now();
    const r = Bun.spawnSync([cc, "-O2", "-pthread", "-o", bin, file], { stdout: "pipe", stderr: "pipe" });
    const buildMs = performance.now() - t0;
    if (r.exitCode !== 0) {
      const msg = `${r.stderr.toString()}${r.stdout.toString()}`.trim().split("\n").slice(0, 6).join("\n");
      throw new CBuildError(`${cc} failed on fault-bench.c (exit ${r.exitCode}): ${msg}`);
    }
    return { bin, buildMs, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

export interface CRunOptions {
  readonly runs: number;
  readonly warmup: number;
  readonly loop: CLoop;
  readonly cpu?: number;
}

/** Run the C program once (warm-ups, then `runs` timed runs); the figures of each timed run. */
export async function runC(build: CBuild, s: Scenario, o: CRunOptions): Promise<RunFigure[]> {
  const args = [
    build.bin,
    "--kind",
    KINDS[s.kind].c,
    "--mem",
    s.mem,
    "--mode",
    s.mode,
    "--loop",
    o.loop,
    "--pages",
    String(s.pages),
    "--runs",
    String(o.runs),
    "--warmup",
    String(o.warmup),
    "--faulters",
    String(s.faulters),
    "--handlers",
    String(s.handlers),
    ...(o.cpu === undefined ? [] : ["--cpu", String(o.cpu)]),
  ];
  const p = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  liveProcs.add(p);
  let out: string;
  let err: string;
  let code: number;
  try {
    [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  } finally {
    liveProcs.delete(p);
  }
  if (code !== 0) throw new Error(`fault-bench (C) ${scenarioLabel(s)} exited ${code}: ${err.trim()}`);
  const runs = [...out.matchAll(/^run ns=(\d+) cpu_ns=(\d+) faults=(\d+) served=(\d+)$/gm)].map((m) => ({
    us: Number(m[1]) / 1000 / Number(m[3]),
    cpuUs: Number(m[2]) / 1000 / Number(m[3]),
  }));
  if (runs.length !== o.runs) throw new Error(`fault-bench (C) printed ${runs.length} runs, expected ${o.runs}: ${out.trim()}`);
  return runs;
}
