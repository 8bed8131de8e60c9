// The table of an earlier run, read back from its folder
// (<cache>/matrix/<time>/<target>/{job.yaml,lava-run.log}): targets in the
// order given, wall time from the first and last record of each log.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { readLavaLog } from "./results.ts";
import type { Row } from "./table.ts";
import { judge } from "./verdict.ts";

interface JobFile {
  readonly actions: { deploy?: { images: { kernel: { url: string } } }; test?: { definitions: { parameters: { COMMAND: string } }[] } }[];
}

function wallSeconds(log: string): number {
  const dts = [...log.matchAll(/^\{"dt": "([^"]+)"/gm)].map((m) => Date.parse(`${m[1]}Z`));
  return dts.length < 2 ? 0 : (dts.at(-1)! - dts[0]!) / 1000;
}

/** One row per target folder holding a lava-run log; the command the jobs ran. */
export function readRun(targetDirs: readonly string[]): { rows: Row[]; command: string } {
  const rows: Row[] = [];
  const commands: string[] = [];
  for (const dir of targetDirs) {
    const logFile = join(dir, "lava-run.log");
    if (!existsSync(logFile)) continue;
    const job = JSON.parse(readFileSync(join(dir, "job.yaml"), "utf8")) as JobFile;
    const command = job.actions.find((a) => a.test)?.test?.definitions[0]?.parameters.COMMAND ?? "";
    if (!commands.includes(command)) commands.push(command);
    const kernelUrl = job.actions.find((a) => a.deploy)?.deploy?.images.kernel.url ?? "";
    const text = readFileSync(logFile, "utf8");
    rows.push({
      target: basename(dir),
      kernel: basename(dirname(kernelUrl)),
      wallS: wallSeconds(text),
      verdict: judge(readLavaLog(text), command),
    });
  }
  return { rows, command: commands.join(" / ") };
}
