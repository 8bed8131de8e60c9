// Strict checking of a command's raw arguments before citty parses them:
// citty ignores unknown options and extra arguments; we reject them.
import type { ArgsDef } from "citty";
import { UsageError } from "./usage-error.ts";

type Kind = "boolean" | "string";

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const list = (a: string | string[] | undefined) => (a === undefined ? [] : Array.isArray(a) ? a : [a]);

/** Options a command accepts, by spelling (without dashes). */
function optionTable(def: ArgsDef): { long: Map<string, Kind>; short: Map<string, Kind> } {
  const long = new Map<string, Kind>();
  const short = new Map<string, Kind>();
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === "positional") continue;
    const kind: Kind = arg.type === "boolean" ? "boolean" : "string";
    for (const n of new Set([name, kebab(name), camel(name)])) {
      long.set(n, kind);
      if (kind === "boolean") long.set(`no-${n}`, kind);
    }
    if ("alias" in arg) for (const a of list(arg.alias)) (a.length === 1 ? short : long).set(a, kind);
  }
  return { long, short };
}

/** Throw a UsageError naming the first unknown option, missing value or extra argument. */
export function checkArgs(def: ArgsDef, raw: readonly string[]): void {
  const { long, short } = optionTable(def);
  const positionals: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const tok = raw[i]!;
    if (tok === "--") {
      positionals.push(...raw.slice(i + 1));
      break;
    }
    if (!tok.startsWith("-") || tok === "-") {
      positionals.push(tok);
      continue;
    }
    const isLong = tok.startsWith("--");
    const eq = tok.indexOf("=");
    const name = tok.slice(isLong ? 2 : 1, eq < 0 ? undefined : eq);
    const shown = `${isLong ? "--" : "-"}${name}`;
    const kind = (isLong ? long : short).get(name);
    if (!kind) throw new UsageError(`unknown option ${shown}`);
    if (kind === "string" && eq < 0) {
      if (i + 1 >= raw.length) throw new UsageError(`option ${shown} needs a value`);
      i++;
    }
    if (kind === "boolean" && eq >= 0 && !/^(true|false)$/.test(tok.slice(eq + 1))) {
      throw new UsageError(`option ${shown} takes no value`);
    }
  }
  const expected = Object.values(def).filter((a) => a.type === "positional").length;
  if (positionals.length > expected) throw new UsageError(`unexpected argument '${positionals[expected]}'`);
}
