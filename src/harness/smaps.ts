// /proc/self/smaps: one field of the mapping that starts at an address.
import { readFileSync } from "node:fs";

/**
 * The value in kB of `field` (e.g. "ShmemPmdMapped") for the mapping that
 * starts exactly at `addr`; undefined when there is no such mapping or field.
 */
export function smapsField(addr: number, field: string): number | undefined {
  const text = readFileSync("/proc/self/smaps", "utf8");
  const head = `${addr.toString(16).padStart(8, "0")}-`;
  let at = text.startsWith(head) ? 0 : text.indexOf(`\n${head}`);
  if (at < 0) return undefined;
  if (at > 0) at += 1;
  // The block runs to the next mapping header (a line starting with a hex range).
  const rest = text.slice(at);
  const next = rest.slice(1).search(/\n[0-9a-f]+-[0-9a-f]+ /);
  const block = next < 0 ? rest : rest.slice(0, next + 1);
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(block);
  return m ? Number(m[1]) : undefined;
}
