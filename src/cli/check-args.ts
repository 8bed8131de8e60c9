// Strict checking of a command's raw arguments before citty parses them:
// citty ignores unknown options and extra arguments; we reject them.
import type { ArgsDef } from "citty";
import { UsageError } from "./usage-error.ts";

/** "list": a string option that takes a comma-separated list (valueHint LIST); repeats add to it. */
type Kind = "boolean" | "string" | "list";

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const list = (a: string | string[] | undefined) => (a === undefined ? [] : Array.isArray(a) ? a : [a]);

/** Options a command accepts, by spelling (without dashes). */
function optionTable(def: ArgsDef): { long: Map<string, Kind>; short: Map<string, Kind> } {
  const long = new Map<string, Kind>();
  const short = new Map<string, Kind>();
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === "positional") continue;
    const kind: Kind = arg.type === "boolean" ? "boolean" : "valueHint" in arg && arg.valueHint === "LIST" ? "list" : "string";
    for (const n of new Set([name, kebab(name), camel(name)])) {
      long.set(n, kind);
      if (kind === "boolean") long.set(`no-${n}`, kind);
    }
    if ("alias" in arg) for (const a of list(arg.alias)) (a.length === 1 ? short : long).set(a, kind);
  }
  return { long, short };
}

/** Options' canonical names (the key in `def`), by spelling, to find repeats given two ways (-f and --filter). */
function canonical(def: ArgsDef): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === "positional") continue;
    for (const n of new Set([name, kebab(name), camel(name)])) names.set(n, name);
    if ("alias" in arg) for (const a of list(arg.alias)) names.set(a, name);
  }
  return names;
}

/**
 * Throw a UsageError naming the first unknown option, missing value, extra
 * argument or repeated option. Returns the arguments to parse: a list
 * option given more than once (--mem anon --mem shmem) becomes one
 * (--mem anon,shmem) at its first place.
 */
export function checkArgs(def: ArgsDef, raw: readonly string[]): string[] {
  const { long, short } = optionTable(def);
  const names = canonical(def);
  /** Per option given with a value: the index of its value token in `out` (lists), or -1. */
  const given = new Map<string, number>();
  const out: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const tok = raw[i]!;
    if (tok === "--") {
      positionals.push(...raw.slice(i + 1));
      out.push(...raw.slice(i));
      break;
    }
    if (!tok.startsWith("-") || tok === "-") {
      positionals.push(tok);
      out.push(tok);
      continue;
    }
    const isLong = tok.startsWith("--");
    const eq = tok.indexOf("=");
    const name = tok.slice(isLong ? 2 : 1, eq < 0 ? undefined : eq);
    const shown = `${isLong ? "--" : "-"}${name}`;
    const kind = (isLong ? long : short).get(name);
    if (!kind) throw new UsageError(`unknown option ${shown}`);
    if (kind === "boolean") {
      if (eq >= 0 && !/^(true|false)$/.test(tok.slice(eq + 1))) throw new UsageError(`option ${shown} takes no value`);
      out.push(tok);
      continue;
    }
    if (eq < 0 && i + 1 >= raw.length) throw new UsageError(`option ${shown} needs a value`);
    const value = eq < 0 ? raw[++i]! : tok.slice(eq + 1);
    const key = names.get(name) ?? name;
    const at = given.get(key);
    if (at === undefined) {
      // (The value's token: the option's own with "=", else the next one.)
      given.set(key, eq >= 0 ? out.length : out.length + 1);
      out.push(...(eq >= 0 ? [tok] : [tok, value]));
    } else if (kind === "list") {
      out[at] = `${out[at]},${value}`;
    } else {
      throw new UsageError(`option ${shown} given more than once (it takes one value)`);
    }
  }
  const expected = Object.values(def).filter((a) => a.type === "positional").length;
  if (positionals.length > expected) throw new UsageError(`unexpected argument '${positionals[expected]}'`);
  return out;
}
