// The operations explore draws, as plain data: what a sequence is, how it
// reads as text, and how it travels in a replay line. Page numbers are
// indices into the explored area; a range is [a, b).
export type Op =
  | { readonly o: "reg"; readonly a: number; readonly b: number; readonly m: number }
  | { readonly o: "unreg"; readonly a: number; readonly b: number }
  | { readonly o: "copy"; readonly a: number; readonly b: number; readonly dw: boolean; readonly wp: boolean }
  | { readonly o: "zero"; readonly a: number; readonly b: number; readonly dw: boolean }
  | { readonly o: "cont"; readonly a: number; readonly b: number; readonly dw: boolean; readonly wp: boolean }
  | { readonly o: "poison"; readonly a: number; readonly b: number; readonly dw: boolean }
  | { readonly o: "move"; readonly a: number; readonly b: number; readonly dw: boolean }
  | { readonly o: "wp"; readonly a: number; readonly b: number; readonly on: boolean; readonly dw: boolean }
  /** A read or write from the toucher Worker; `res` is how the handler resolves a missing fault, `dw` resolves with DONTWAKE then WAKE. */
  | { readonly o: "touch"; readonly p: number; readonly w: boolean; readonly res: Resolve; readonly dw: boolean }
  /** A write through the unregistered second view (shared file types). */
  | { readonly o: "alias"; readonly p: number }
  | { readonly o: "madv"; readonly a: number; readonly b: number; readonly rm: boolean }
  /** Move the whole area to its other place (mremap MAYMOVE|FIXED). */
  | { readonly o: "mremap" }
  /** Replace a range with a fresh, unregistered mapping of the same thing (mmap MAP_FIXED: munmap and map in one step). */
  | { readonly o: "munmap"; readonly a: number; readonly b: number }
  /** Read a page's /proc/self/pagemap entry: present and uffd-wp bits. */
  | { readonly o: "pagemap"; readonly p: number }
  /** fork: the child reads its pagemap entry of a page (uffd-wp must be gone without EVENT_FORK). */
  | { readonly o: "fork"; readonly p: number }
  /** PAGEMAP_SCAN of the whole area: which pages are written (no uffd-wp bit) and present. */
  | { readonly o: "scan" };

export type OpName = Op["o"];
export const OP_NAMES: readonly OpName[] = [
  "reg",
  "unreg",
  "copy",
  "zero",
  "cont",
  "poison",
  "move",
  "wp",
  "touch",
  "alias",
  "madv",
  "mremap",
  "munmap",
  "pagemap",
  "fork",
  "scan",
];

/** How the handler resolves a missing fault. */
export type Resolve = "copy" | "copy-wp" | "zero";

/** Features a sequence asks for in its handshake (each drawn on or off). */
export const SEQ_FEATURES = ["EVENT_REMOVE", "EVENT_REMAP", "EVENT_UNMAP", "WP_UNPOPULATED", "WP_ASYNC", "THREAD_ID"] as const;
export type SeqFeature = (typeof SEQ_FEATURES)[number];

export interface Sequence {
  readonly features: readonly SeqFeature[];
  readonly ops: readonly Op[];
}

export const MODE_BITS = { missing: 1, wp: 2, minor: 4 } as const;

export function modeText(m: number): string {
  return (Object.keys(MODE_BITS) as (keyof typeof MODE_BITS)[]).filter((k) => m & MODE_BITS[k]).join("|") || "none";
}

const range = (op: { a: number; b: number }) => `${op.a}..${op.b}`;
const flag = (on: boolean, name: string) => (on ? ` ${name}` : "");

/** One operation as a line of text ("register 0..8 missing|wp"). */
export function opText(op: Op): string {
  switch (op.o) {
    case "reg":
      return `register ${range(op)} ${modeText(op.m)}`;
    case "unreg":
      return `unregister ${range(op)}`;
    case "copy":
      return `copy ${range(op)}${flag(op.wp, "wp")}${flag(op.dw, "dontwake")}`;
    case "zero":
      return `zeropage ${range(op)}${flag(op.dw, "dontwake")}`;
    case "cont":
      return `continue ${range(op)}${flag(op.wp, "wp")}${flag(op.dw, "dontwake")}`;
    case "poison":
      return `poison ${range(op)}${flag(op.dw, "dontwake")}`;
    case "move":
      return `move ${range(op)}${flag(op.dw, "dontwake")}`;
    case "wp":
      return `writeprotect ${range(op)} ${op.on ? "on" : "off"}${flag(op.dw, "dontwake")}`;
    case "touch":
      return `touch-${op.w ? "write" : "read"} ${op.p} (missing: ${op.res}${op.dw ? ", dontwake+wake" : ""})`;
    case "alias":
      return `alias-write ${op.p}`;
    case "madv":
      return `madvise ${range(op)} ${op.rm ? "REMOVE" : "DONTNEED"}`;
    case "mremap":
      return "mremap all -> other place";
    case "munmap":
      return `munmap ${range(op)} (a fresh mapping in its place)`;
    case "pagemap":
      return `pagemap ${op.p}`;
    case "fork":
      return `fork, child reads pagemap ${op.p}`;
    case "scan":
      return "pagemap-scan all (written, present)";
  }
}

export function sequenceText(seq: Sequence): string[] {
  const head = `features: ${seq.features.join("|") || "none"}`;
  return [head, ...seq.ops.map((op, i) => `${i + 1} ${opText(op)}`)];
}

/** A sequence as the string `--replay` takes (base64url of its JSON, memory type first). */
export function encodeReplay(mem: string, seq: Sequence): string {
  return `${mem}:${Buffer.from(JSON.stringify(seq)).toString("base64url")}`;
}

export function decodeReplay(text: string): { mem: string; seq: Sequence } {
  const at = text.indexOf(":");
  if (at <= 0) throw new Error("a replay is <memory type>:<encoded sequence>");
  let seq: Sequence;
  try {
    seq = JSON.parse(Buffer.from(text.slice(at + 1), "base64url").toString("utf8"));
  } catch {
    throw new Error("the replay's sequence does not decode");
  }
  if (!seq || !Array.isArray(seq.ops) || !Array.isArray(seq.features)) throw new Error("the replay's sequence does not decode");
  for (const op of seq.ops) {
    if (!op || !OP_NAMES.includes((op as Op).o)) throw new Error(`the replay holds an unknown operation ${JSON.stringify(op)}`);
  }
  return { mem: text.slice(0, at), seq };
}
