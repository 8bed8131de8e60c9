// Help text: citty's usage, without colour when it is not going to a terminal.
import { type CommandDef, renderUsage } from "citty";

const ANSI = /\u001b\[[0-9;]*m/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, "");
}

/** Colour only for a terminal, and never with NO_COLOR set. */
function colourWanted(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}

type AnyCommand = CommandDef<any>;

export async function helpText(cmd: AnyCommand, parent?: AnyCommand): Promise<string> {
  const text = await renderUsage(cmd, parent);
  return colourWanted() ? text : stripAnsi(text);
}
