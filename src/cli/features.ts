// `uffd-suite features [--json]`: what this kernel's userfaultfd offers.
import type { CommandDef } from "citty";
import { collectFeatures } from "../features/probe.ts";
import { featuresText } from "../features/text.ts";
import { EXIT } from "./exit.ts";

const features: CommandDef<{ json: { type: "boolean"; description: string } }> = {
  meta: {
    name: "features",
    description: "Show how userfaultfd opens here, its API features, and what registration offers per memory type",
  },
  args: {
    json: { type: "boolean", description: "Print one JSON object instead of text" },
  },
  run({ args }) {
    const report = collectFeatures();
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : featuresText(report));
    return report.open.ok ? EXIT.OK : EXIT.NOTHING_RAN;
  },
};

export default features;
