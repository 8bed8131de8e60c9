// The memory-type process of `explore`: probe, then explore (or replay) and
// answer on stdout. A crash or hang here is the parent's finding, not a dead run.
import { ftruncateSync, openSync, writeSync } from "node:fs";
import { encodeReplay, type Sequence } from "./ops.ts";
import { hugepageShortage } from "../machine/hugepages.ts";
import { type MemoryType, memoryType } from "../harness/memory.ts";
import type { FeatureSet } from "../uffd/bits.ts";
import { probeFeatures } from "../uffd/uffd.ts";
import { Errno, SysError } from "../sys/errno.ts";
import { explore, type ExploreStats, replay } from "./explorer.ts";
import { explorePlants } from "./plants.ts";
import { ANSWER_PREFIX, type MemAnswer, type MemRequest } from "./request.ts";
import { hugepagesNeeded, makeTarget, stopToucher } from "./session.ts";

function answer(a: MemAnswer): void {
  writeSync(1, `${ANSWER_PREFIX}${JSON.stringify(a)}\n`);
}

/** Keep the sequence about to run in `file` (one pwrite), so a crash can name it. */
function lastWriter(file: string | undefined, mem: string): ((seq: Sequence) => void) | undefined {
  if (!file) return undefined;
  const fd = openSync(file, "w");
  return (seq) => {
    const line = Buffer.from(`${encodeReplay(mem, seq)}\n`);
    writeSync(fd, line, 0, line.length, 0);
    ftruncateSync(fd, line.length);
  };
}

function progressLine(mem: string, s: ExploreStats, timeMs: number | undefined): string {
  const rate = s.ms > 0 ? Math.round((s.ops * 1000) / s.ms) : 0;
  const left = timeMs === undefined ? "" : `, ${Math.max(0, Math.ceil((timeMs - s.ms) / 1000))} s left`;
  return `\rexplore on ${mem}: ${s.sequences} sequences, ${s.ops} operations, ${rate} ops/s${left}   `;
}

export async function runMemRequest(req: MemRequest): Promise<void> {
  const mem = memoryType(req.mem);
  if (mem.hugetlb) {
    const short = hugepageShortage(hugepagesNeeded(mem));
    if (short) return answer({ status: "skip", reason: short });
  }
  let kernel;
  try {
    kernel = probeFeatures();
  } catch (e) {
    return answer({ status: "skip", reason: `no userfaultfd: ${(e as Error).message}` });
  }
  try {
    await exploreMem(req, mem, kernel);
  } catch (e) {
    // Huge pages another run took back while we explored: a missing resource, not a finding.
    if (mem.hugetlb && e instanceof SysError && e.errno === Errno.ENOMEM) {
      return answer({ status: "skip", reason: `huge pages ran out while exploring (${(e as Error).message})` });
    }
    throw e;
  }
}

async function exploreMem(req: MemRequest, mem: MemoryType, kernel: FeatureSet): Promise<void> {
  const t = await makeTarget(mem, kernel);
  const plants = explorePlants();
  let shown = 0;
  const onProgress = req.progress
    ? (s: ExploreStats) => {
        if (s.ms - shown < 250) return;
        shown = s.ms;
        process.stderr.write(progressLine(mem.name, s, req.timeMs));
      }
    : undefined;
  const r = req.replay
    ? await replay(t, req.replay, plants)
    : await explore(t, {
        seed: req.seed,
        runs: req.runs,
        timeMs: req.timeMs,
        ops: req.ops,
        plants,
        onProgress,
        stepAround: req.stepAround,
        onSequence: lastWriter(req.lastFile, mem.name),
      });
  if (req.progress) process.stderr.write("\r\x1b[K");
  if (t.noNative) r.stats.notes.push(`fork and poison not drawn: the native helpers cannot run here (${t.noNative})`);
  stopToucher();
  answer({ status: "done", stats: r.stats, ...(r.finding ? { finding: r.finding } : {}) });
}
