// Hidden: `uffd-suite hugepage-hold --kb N` adds one hugetlb page of N KiB to
// the pool for the run that started it (the one huge-page policy: a share of
// its own on top, on record), writes "held" (or "none") as one line on
// stdout, and takes its share off again when its stdin closes: the parent is
// done with the page, or gone. `run` uses it to have a gigantic page (1 GiB,
// whose allocation and first fault take seconds in a VM) allocated and
// faulted in once while the unit cases run.
import { writeSync } from "node:fs";
import type { CommandDef } from "citty";
import { hugepageShortage, reserveHugepages, warmHugepage } from "../machine/hugepages.ts";
import type { SettingChange } from "../machine/restore.ts";
import { hugetlbSizes } from "../machine/sizes.ts";
import { UsageError } from "./usage-error.ts";

const args = {
  kb: { type: "string", description: "Huge page size in KiB (one of the sizes in /sys/kernel/mm/hugepages)", required: true },
} as const;

export default {
  meta: { name: "hugepage-hold", description: "Hold one hugetlb page for the parent run until stdin closes (used by `run`)", hidden: true },
  args,
  async run({ args: a }) {
    const size = Number(a.kb) * 1024;
    if (!/^[0-9]+$/.test(a.kb) || !hugetlbSizes().includes(size)) {
      throw new UsageError(
        `--kb: '${String(a.kb).slice(0, 100)}' is not a hugetlb page size of this kernel (${hugetlbSizes()
          .map((s) => s / 1024)
          .join(", ")} KiB)`,
      );
    }
    // Held only when this process added a page of its own; otherwise the
    // parent reserves as it would have without us (same results, same text).
    let change: SettingChange | undefined;
    try {
      change = reserveHugepages(1, size);
    } catch {
      change = undefined;
    }
    // reserveHugepages throws unless the kernel granted this share in full.
    const held = change !== undefined && hugepageShortage(1, size) === undefined;
    if (!held) {
      change?.dispose();
      change = undefined;
    }
    // Fault it in once now, so the case that uses it does not wait for that.
    if (held) warmHugepage(size);
    writeSync(1, held ? "held\n" : "none\n");
    try {
      for await (const _ of Bun.stdin.stream()) {
        // Nothing is read: the end of stdin is the signal to give the page back.
      }
    } finally {
      change?.dispose();
    }
  },
} satisfies CommandDef<typeof args>;
