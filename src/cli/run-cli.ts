// citty, wrapped: bad usage (unknown command, unknown option, a missing or
// wrong argument) prints one line on stderr and exits 2, never a stack trace
// nor the whole usage; --help on every command; --version at the top.
import { type ArgsDef, type CommandDef, runCommand, type SubCommandsDef } from "citty";
import { stopExitCode } from "../machine/signals.ts";
import { unknownPlants } from "../plants.ts";
import { checkArgs } from "./check-args.ts";
import { EXIT } from "./exit.ts";
import { helpText, stripAnsi } from "./help.ts";
import { UsageError } from "./usage-error.ts";
import { VERSION } from "./version.ts";

type AnyCommand = CommandDef<any>;

const HELP = ["--help", "-h"];
const VERSION_FLAGS = ["--version", "-v"];

async function value<T>(v: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

async function nameOf(cmd: AnyCommand): Promise<string> {
  return (await value(cmd.meta))?.name ?? "";
}

/** Options before "--". */
function flags(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).filter((t) => t.startsWith("-"));
}

interface Resolved {
  readonly cmd: AnyCommand;
  readonly parent?: AnyCommand;
  readonly rest: string[];
  /** "uffd-suite features" */
  readonly path: string;
}

/** Walk the command tree along argv. */
async function resolve(root: AnyCommand, argv: string[]): Promise<Resolved> {
  let cmd = root;
  let parent: AnyCommand | undefined;
  let rest = argv;
  let path = await nameOf(root);
  for (;;) {
    const subs: SubCommandsDef | undefined = await value(cmd.subCommands);
    if (!subs || Object.keys(subs).length === 0) return { cmd, parent, rest, path };
    const at = rest.findIndex((t) => !t.startsWith("-"));
    const before = at < 0 ? rest : rest.slice(0, at);
    const help = before.some((t) => HELP.includes(t));
    let name: string | undefined = at < 0 ? undefined : rest[at];
    let after = at < 0 ? [] : rest.slice(at + 1);
    const fallback = name === undefined && !help ? await value(cmd.default) : undefined;
    if (fallback !== undefined) {
      // No command: the default one gets every argument (and checks them).
      name = fallback;
      after = rest;
    } else {
      const unknown = before.find((t) => !HELP.includes(t));
      if (unknown && !help) throw new UsageError(`unknown option ${unknown.split("=")[0]}`, { cause: path });
      if (name === undefined) return { cmd, parent, rest, path };
    }
    const sub = Object.hasOwn(subs, name) ? await value(subs[name]) : undefined;
    if (!sub) throw new UsageError(`unknown command ${name}`, { cause: path });
    parent = cmd;
    cmd = sub;
    rest = after;
    path = `${path} ${name}`;
  }
}

/** Past this many characters a word (an argument echoed back) is cut in a message. */
const LONGEST_WORD = 100;

function oneLine(s: string): string {
  const line = stripAnsi(s)
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join("; ");
  const cut = (w: string) => `${w.slice(0, 60)}…(${w.length} characters)`;
  return line
    .replace(new RegExp(`'([^']{${LONGEST_WORD + 1},})'`, "g"), (_, w: string) => `'${cut(w)}'`)
    .replace(new RegExp(`[^\\s']{${LONGEST_WORD + 1},}`, "g"), cut);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Report an error on stderr; return the exit code. */
function report(prog: string, e: unknown, path: string): number {
  const err = e instanceof Error ? e : new Error(String(e));
  // citty's own argument errors are CLIErrors (missing positional, bad enum value).
  if (err instanceof UsageError || err.name === "CLIError") {
    const where = typeof err.cause === "string" ? err.cause : path;
    process.stderr.write(`${prog}: ${lowerFirst(oneLine(err.message))} (see ${where} --help)\n`);
    return EXIT.USAGE;
  }
  process.stderr.write(`${prog}: ${oneLine(err.message)}\n`);
  if (process.env.UFFD_SUITE_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
  return EXIT.FAIL;
}

/**
 * Run the command line `argv` (without the program) against `root`; returns
 * the exit code. A command's run() may return a number: that is the exit code.
 */
export async function runCli(root: AnyCommand, argv: string[]): Promise<number> {
  const prog = (await nameOf(root)) || "uffd-suite";
  let path = prog;
  try {
    if (VERSION_FLAGS.includes(argv[0]!)) {
      if (argv.length > 1) throw new UsageError(`unexpected argument '${argv[1]}' after ${argv[0]} (it takes none)`);
      process.stdout.write(`${VERSION}\n`);
      return EXIT.OK;
    }
    const r = await resolve(root, argv);
    path = r.path;
    const wantsHelp = flags(r.rest).some((t) => HELP.includes(t));
    if (wantsHelp) {
      process.stdout.write(`${await helpText(r.cmd, r.parent)}\n`);
      return EXIT.OK;
    }
    if (!r.cmd.run) {
      // A group called without a command: show what it offers.
      process.stderr.write(`${await helpText(r.cmd, r.parent)}\n`);
      return EXIT.USAGE;
    }
    const rawArgs = checkArgs((await value(r.cmd.args)) ?? ({} as ArgsDef), r.rest);
    const unknown = unknownPlants();
    if (unknown.length > 0) throw new UsageError(`unknown plant ${unknown.map((n) => `'${n}'`).join(", ")} in UFFD_SUITE_PLANT`);
    const { result } = await runCommand(r.cmd, { rawArgs });
    const stopped = stopExitCode();
    if (stopped !== undefined) return stopped;
    return typeof result === "number" ? result : EXIT.OK;
  } catch (e) {
    // Interrupted: the signal handler reports it and ends the process.
    const stopped = stopExitCode();
    if (stopped !== undefined) return stopped;
    return report(prog, e, path);
  }
}
