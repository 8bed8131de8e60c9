// explore's command-line values, checked before anything runs (bad usage: one line, exit 2).
import { MEMORY_NAMES, type MemoryName } from "../harness/memory.ts";
import { OP_NAMES, type OpName } from "./ops.ts";

/** Longer spellings accepted for --ops. */
const OP_ALIASES: Readonly<Record<string, OpName>> = {
  register: "reg",
  unregister: "unreg",
  zeropage: "zero",
  continue: "cont",
  writeprotect: "wp",
  madvise: "madv",
  "touch-read": "touch",
  "touch-write": "touch",
  "alias-write": "alias",
};

/** "10m", "60s", "1h", "500ms" or plain seconds; undefined where it is none of those. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const ms = n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? "s") as "s"];
  return ms > 0 && Number.isFinite(ms) ? ms : undefined;
}

export function parseMemList(text: string): MemoryName[] | string {
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return "--mem wants a comma list of memory types";
  const bad = names.find((n) => !(MEMORY_NAMES as readonly string[]).includes(n));
  if (bad) return `unknown memory type '${bad}' (expected one of ${MEMORY_NAMES.join(", ")})`;
  return [...new Set(names)] as MemoryName[];
}

export function parseOpList(text: string): OpName[] | string {
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return "--ops wants a comma list of operations";
  const out: OpName[] = [];
  for (const n of names) {
    const op = (OP_NAMES as readonly string[]).includes(n) ? (n as OpName) : OP_ALIASES[n];
    if (!op) return `unknown operation '${n}' (expected some of ${OP_NAMES.join(", ")})`;
    out.push(op);
  }
  return [...new Set(out)];
}

export function parseCount(flag: string, text: string, max = 2 ** 31 - 1): number | string {
  if (!/^\d+$/.test(text.trim())) return `${flag} wants a whole number, not '${text}'`;
  const n = Number(text);
  return n >= 1 && n <= max ? n : `${flag} must be between 1 and ${max}`;
}
