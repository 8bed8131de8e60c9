// The matrix's one table, then each target's failing cases with their first
// diagnostic: unknown failures first, known kernel bugs apart.
import type { Verdict } from "./verdict.ts";

export interface Row {
  readonly target: string;
  readonly kernel: string;
  readonly wallS: number;
  readonly verdict: Verdict;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((c, i) => c.padEnd(widths[i]!))
    .join("  ")
    .trimEnd();
}

export function formatTable(rows: readonly Row[], ctx: { command: string; totalS: number; resultsDir: string }): string {
  const head = ["target", "kernel", "pass", "skip", "fail", "known", "wall"];
  const body = rows.map((r) => [
    r.target,
    r.kernel,
    String(r.verdict.pass),
    String(r.verdict.skip),
    String(r.verdict.unknown.length),
    String(r.verdict.known.length),
    `${Math.round(r.wallS)} s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const out = [`uffd-suite ${ctx.command} under lava-run`, pad(head, widths), ...body.map((b) => pad(b, widths))];
  for (const r of rows) {
    for (const f of r.verdict.unknown) out.push(`${r.target}: FAIL ${f.name}${f.diagnostic ? `: ${f.diagnostic}` : ""}`);
    for (const f of r.verdict.known) out.push(`${r.target}: known ${f.name}${f.diagnostic ? `: ${f.diagnostic}` : ""}\n  ${f.known}`);
  }
  const unknown = rows.reduce((n, r) => n + r.verdict.unknown.length, 0);
  out.push(
    `${unknown} unknown failure${unknown === 1 ? "" : "s"}; whole matrix ${Math.round(ctx.totalS)} s; LAVA logs in ${ctx.resultsDir}`,
  );
  return `${out.join("\n")}\n`;
}
