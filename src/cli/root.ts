// The top-level command: the table of commands, and the default one.
import type { CommandDef } from "citty";
import { COMMANDS, DEFAULT_COMMAND } from "./commands.ts";
import { VERSION } from "./version.ts";

export const root: CommandDef = {
  meta: {
    name: "uffd-suite",
    version: VERSION,
    description: "Linux userfaultfd selftests (run as root)",
  },
  subCommands: COMMANDS,
  default: Object.hasOwn(COMMANDS, DEFAULT_COMMAND) ? DEFAULT_COMMAND : undefined,
};
