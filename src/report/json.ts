// The JSON report: one object, `cases` (one per result) and `summary`.
import type { RunReport } from "./model.ts";

export function renderJson(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
