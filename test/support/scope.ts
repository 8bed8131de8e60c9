// What a fault test opened, closed in the one safe order: the userfaultfds
// first (that wakes any fault left unserved), then the Workers once their
// access has finished, then the memory -- never unmapped under a Worker still
// touching it.
import type { Area } from "../../src/harness/memory.ts";
import type { Scratch } from "../../src/sys/mem.ts";
import type { Uffd } from "../../src/uffd/index.ts";
import { type Toucher, within } from "./fault.ts";

export class Scope {
  readonly #uffds: Uffd[] = [];
  readonly #touchers: Toucher[] = [];
  readonly #memory: Array<Area | Scratch> = [];

  uffd(u: Uffd): Uffd {
    this.#uffds.push(u);
    return u;
  }

  toucher(t: Toucher): Toucher {
    this.#touchers.push(t);
    return t;
  }

  memory<M extends Area | Scratch>(m: M): M {
    this.#memory.push(m);
    return m;
  }

  async close(): Promise<void> {
    for (const u of this.#uffds.splice(0)) u.close();
    let idle = true;
    for (const t of this.#touchers.splice(0)) {
      try {
        if (t.inFlight) await within(t.inFlight, 5000, "toucher after close");
        t.terminate();
      } catch {
        idle = false; // still inside memory: leave it mapped rather than crash the process
      }
    }
    const memory = this.#memory.splice(0);
    if (idle) for (const m of memory) m.dispose();
  }
}
