// What crosses a case process's stdout, and how the runner reads it. The
// runner hands each process its case with a token nobody else knows; the
// process answers with lines that carry that token: an "ack" once it has its
// case, then one "result" record. A verdict is taken only from a whole
// (newline-ended) result record with the token, case and memory type that
// were sent to that very process, and only from a process that then exited
// cleanly. Anything else (no record, half a record, a record for another
// request, two records, a crash after the record) is a failure that says so:
// never a verdict the case did not send.
import { randomBytes } from "node:crypto";
import { type CaseResult, resultOf } from "./result.ts";

/** What a waiting case process reads on stdin: one JSON line. */
export interface CaseRequest {
  readonly case: string;
  readonly mem?: string;
  /** Echoed in every line the process writes back; absent for a hand-run `unit-case --case`. */
  readonly token?: string;
}

/** A token for one request: unguessable, never reused within a run. */
export function newToken(): string {
  return randomBytes(12).toString("hex");
}

export function ackLine(req: CaseRequest): string {
  return `${JSON.stringify({ kind: "ack", token: req.token ?? null })}\n`;
}

export function readyLine(req: CaseRequest): string {
  return `${JSON.stringify({ kind: "ready", token: req.token ?? null })}\n`;
}

/** Is `line` the ready line for `req`? */
export function isReady(line: string, req: CaseRequest): boolean {
  return line === readyLine(req).trimEnd();
}

export function recordLine(req: CaseRequest, result: CaseResult): string {
  return `${JSON.stringify({ kind: "result", token: req.token ?? null, case: req.case, mem: req.mem ?? null, result })}\n`;
}

/** How far the process got, as its stdout shows. */
export type Progress =
  | { readonly stage: "no-ack" }
  | { readonly stage: "acked" }
  /** The start of a record without its end: it died while writing. */
  | { readonly stage: "partial" }
  | { readonly stage: "result"; readonly result: CaseResult }
  /** Lines that cannot be this request's one record. */
  | { readonly stage: "bad"; readonly why: string };

function parsed(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Read a finished process's stdout against the request sent to it. */
export function readProgress(stdout: string, req: CaseRequest): Progress {
  const lines = stdout.split("\n");
  // After the last newline: a line never finished.
  const tail = lines.pop() ?? "";
  let acked = false;
  const results: CaseResult[] = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    const v = parsed(line);
    if (!v || (v.kind !== "ack" && v.kind !== "result")) return { stage: "bad", why: `a line that is no record: ${line.slice(0, 80)}` };
    if (v.token !== (req.token ?? null)) return { stage: "bad", why: `a ${v.kind} line for another request` };
    if (v.kind === "ack") {
      acked = true;
      continue;
    }
    if (v.case !== req.case || v.mem !== (req.mem ?? null)) {
      return { stage: "bad", why: `a record for ${String(v.case)} on ${String(v.mem)}, not for the case sent` };
    }
    const r = resultOf(v.result);
    if (!r) return { stage: "bad", why: "a record without a valid result" };
    results.push(r);
  }
  if (results.length > 1) return { stage: "bad", why: `${results.length} result records` };
  if (results.length === 1)
    return tail === "" ? { stage: "result", result: results[0]! } : { stage: "bad", why: "output after its record" };
  if (tail.startsWith("{")) return { stage: "partial" };
  return acked ? { stage: "acked" } : { stage: "no-ack" };
}
