// What one (case, memory type) came to. Crosses the pipe from an isolated
// case process as one JSON line (record.ts); the runner names it and hands it
// to the run's result stream.
import type { Result } from "../report/result.ts";

/**
 * A Result before it is named: status, reason (skip: why; fail: the
 * directive, e.g. "crashed: SIGSEGV", "TIMEOUT 60 s") and diagnostics.
 */
export type CaseResult = Pick<Result, "status" | "reason" | "diagnostics"> & {
  /** Wall time of the case in milliseconds. */
  readonly ms?: number;
};

/** A parsed JSON value as a CaseResult, if it is one. */
export function resultOf(v: unknown): CaseResult | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (r.status !== "pass" && r.status !== "fail" && r.status !== "skip") return undefined;
  const diags = Array.isArray(r.diagnostics) ? r.diagnostics.filter((d): d is string => typeof d === "string") : [];
  return {
    status: r.status,
    reason: typeof r.reason === "string" ? r.reason : undefined,
    diagnostics: diags,
    ms: typeof r.ms === "number" ? r.ms : undefined,
  };
}
