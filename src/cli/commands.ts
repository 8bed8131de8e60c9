// The table of uffd-suite commands: one line per command. Each module's
// default export is a plain citty command object; modules load only when their
// command runs (or when the top-level --help lists them), so `--version` stays
// fast and a command's imports cost nothing to the others.
import type { CommandDef } from "citty";

type Lazy = () => Promise<CommandDef<any>>;

export const COMMANDS = {
  features: () => import("./features.ts").then((m) => m.default),
  unit: () => import("./unit.ts").then((m) => m.default),
  "unit-case": () => import("./unit-case.ts").then((m) => m.default),
  bench: () => import("./bench.ts").then((m) => m.default),
  stress: () => import("./stress.ts").then((m) => m.default),
  run: () => import("./run.ts").then((m) => m.default),
  "wp-mremap": () => import("./wp-mremap.ts").then((m) => m.default),
  "hugepage-hold": () => import("./hugepage-hold.ts").then((m) => m.default),
  explore: () => import("./explore.ts").then((m) => m.default),
  "explore-mem": () => import("./explore-mem.ts").then((m) => m.default),
} satisfies Record<string, Lazy>;

/** What `uffd-suite` with no command runs, once that command exists. */
export const DEFAULT_COMMAND = "run";
