// The bench report as text.
import type { BenchReport } from "./bench.ts";
import { scenarioLabel } from "./kinds.ts";
import type { Summary } from "./stats.ts";

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fig = (x: number) => x.toFixed(2);

/** Columns: text left-aligned, figures right-aligned, two spaces between. */
function table(rows: readonly (readonly string[])[], leftCols: number): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i < leftCols ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}

function cells(wall: Summary, cpu: Summary): string[] {
  return [fig(wall.min), fig(wall.median), fig(wall.max), int.format(wall.faultsPerSec), fig(cpu.median)];
}

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `uffd-suite bench: ${int.format(r.pages)} faults x ${r.pageSize / 1024} KiB per run, ` +
      `${r.runs} timed runs after ${r.warmup} warm-up per case, 1 faulting Worker, 1 handler Worker`,
  );
  out.push(`kernel ${m.kernel}, bun ${m.bun}, cpus allowed ${m.cpusAllowed}, pinned: ${m.pinned}`);
  out.push(`load average: ${m.loadStart.join(" ")} at start, ${m.loadEnd.join(" ")} at end`);
  if (r.c && "cc" in r.c) {
    out.push(`C reference: bench/fault-bench.c built with ${r.c.cc} -O2 in ${r.c.buildMs} ms, handler loop "${r.c.loop}"`);
  } else if (r.c) {
    out.push(`C reference: ${r.c.missing}`);
  }
  out.push("µs: wall time per fault (min, median, max over runs); cpu µs: CPU time of the whole process per fault (median)");
  out.push("");
  const rows: string[][] = [["kind", "mem", "mode", "side", "min µs", "med µs", "max µs", "faults/s", "cpu µs"]];
  for (const c of r.cases) {
    rows.push([c.kind, c.mem, c.mode, "bun", ...cells(c.bun, c.bunCpu)]);
    if (c.c) rows.push(["", "", "", "c", ...cells(c.c, c.cCpu!)]);
  }
  out.push(...table(rows, 4));
  for (const s of r.skipped) out.push(`${s.kind} ${s.mem}: skipped (${s.reason})`);

  if (r.scaling.length > 0) {
    out.push("");
    out.push("scaling, missing+copy anon poll: median wall µs per fault (all faults of the run), faults/s:");
    const hasC = r.scaling.some((s) => s.c);
    const srows: string[][] = [["faulters", "handlers", "bun µs", "bun faults/s", ...(hasC ? ["c µs", "c faults/s", "bun/c"] : [])]];
    for (const s of r.scaling) {
      srows.push([
        String(s.faulters),
        String(s.handlers),
        fig(s.bun.median),
        int.format(s.bun.faultsPerSec),
        ...(s.c ? [fig(s.c.median), int.format(s.c.faultsPerSec), fig(s.ratio!)] : []),
      ]);
    }
    out.push(...table(srows, 0));
  }

  out.push("");
  const ws = r.workerStartMs;
  const ms = (s: Summary) => `${fig(s.median)} ms (min ${fig(s.min)}, max ${fig(s.max)})`;
  out.push(
    `Worker start, time to first message (median of ${ws.handler.runs.length}): handler ${ms(ws.handler)}, faulter ${ms(ws.faulter)}`,
  );
  for (const mem of ["anon", "shmem"]) {
    const cs = r.cases.filter((c) => c.kind === "missing+copy" && c.mem === mem);
    if (cs.length > 0) {
      out.push(
        `faults/s through the handler Worker, missing+copy ${mem}: ${cs.map((c) => `${int.format(c.bun.faultsPerSec)} (${c.mode})`).join(", ")}`,
      );
    }
  }

  const paired = r.cases.filter((c) => c.ratio !== undefined);
  if (paired.length > 0) {
    out.push("");
    out.push(`bun/c per kind: median over ${r.runs} pairs of runs of the wall-time ratio [each pair], and of the CPU-time ratio`);
    const prow: string[][] = [["case", "bun/c", "pairs", "cpu bun/c"]];
    for (const c of paired) prow.push([scenarioLabel(c), fig(c.ratio!), `[${c.ratios!.map(fig).join(" ")}]`, fig(c.cpuRatio!)]);
    out.push(...table(prow, 1).map((l) => `  ${l}`));
    const headline = paired.find((c) => c.kind === "missing+copy" && c.mem === "anon" && c.mode === "poll");
    if (headline) out.push(`bun/c missing+copy poll: ${fig(headline.ratio!)}`);
  }
  return `${out.join("\n")}\n`;
}
