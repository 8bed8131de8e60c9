// Each memory type explores in its own process (this program's hidden
// `explore-mem` command), so a crash or a hang of the kernel or of Bun is a
// finding with its seed, not the end of the run.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onInterrupt } from "../machine/signals.ts";
import { selfCommand } from "../harness/self-exec.ts";
import { ANSWER_PREFIX, type MemAnswer, type MemRequest } from "./request.ts";

export const MEM_COMMAND = "explore-mem";

export type Isolated = MemAnswer | { readonly status: "crash"; readonly reason: string; readonly stderr: string[] };

const live = new Set<{ kill: (s?: number | NodeJS.Signals) => void; exited: Promise<number> }>();
let hooked = false;

export async function runIsolated(req: MemRequest, limitMs: number): Promise<Isolated> {
  if (!hooked) {
    hooked = true;
    onInterrupt(() => {
      for (const p of live) p.kill("SIGKILL");
      return Promise.all([...live].map((p) => p.exited));
    });
  }
  const dir = mkdtempSync(join(tmpdir(), "uffd-suite-explore-"));
  const lastFile = join(dir, "last");
  try {
    return await run({ ...req, lastFile }, limitMs, lastFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(req: MemRequest, limitMs: number, lastFile: string): Promise<Isolated> {
  const proc = Bun.spawn([...selfCommand(), MEM_COMMAND, "--stdin"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: req.progress ? "inherit" : "pipe",
    env: process.env,
    detached: true,
  });
  live.add(proc);
  const out = new Response(proc.stdout).text();
  const err = proc.stderr ? new Response(proc.stderr as ReadableStream).text() : Promise.resolve("");
  proc.stdin.write(`${JSON.stringify(req)}\n`);
  await proc.stdin.end();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, limitMs);
  await proc.exited;
  clearTimeout(timer);
  live.delete(proc);
  const [stdout, stderr] = await Promise.all([out, err]);
  if (!req.progress && stderr) process.stderr.write(stderr);
  const tail = stderr.split("\n").filter(Boolean).slice(-5);
  const line = stdout.split("\n").find((l) => l.startsWith(ANSWER_PREFIX));
  if (line && !timedOut) return JSON.parse(line.slice(ANSWER_PREFIX.length)) as MemAnswer;
  const batch = `seed ${req.seed}`;
  const last = existsSync(lastFile) ? readFileSync(lastFile, "utf8").trim() : "";
  if (last) tail.push(`the sequence it was running: uffd-suite explore --replay '${last}'`);
  if (timedOut)
    return { status: "crash", reason: `TIMEOUT ${Math.round(limitMs / 1000)} s (${batch}: still running; killed)`, stderr: tail };
  if (proc.signalCode) return { status: "crash", reason: `crashed: ${proc.signalCode} (${batch})`, stderr: tail };
  return { status: "crash", reason: `exited with code ${proc.exitCode} without an answer (${batch})`, stderr: tail };
}
