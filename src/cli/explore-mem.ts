// Hidden: `uffd-suite explore-mem --stdin` reads one JSON request (see
// src/explore/request.ts) and explores one memory type in this process.
import { exitWithParent } from "../harness/self-exec.ts";
import type { CommandDef } from "citty";
import { runMemRequest } from "../explore/child.ts";
import type { MemRequest } from "../explore/request.ts";
import { UsageError } from "./usage-error.ts";

const args = { stdin: { type: "boolean", description: "Read the request as a JSON line on stdin" } } as const;

const exploreMem: CommandDef<typeof args> = {
  meta: { name: "explore-mem", description: "Explore one memory type (used by `explore`)", hidden: true },
  args,
  async run({ args: a }) {
    if (!a.stdin) throw new UsageError("explore-mem needs --stdin");
    exitWithParent();
    const req = JSON.parse((await Bun.stdin.text()).trim()) as MemRequest;
    await runMemRequest(req);
    return 0;
  },
};

export default exploreMem;
