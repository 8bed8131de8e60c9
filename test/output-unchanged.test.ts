// What the test commands print must not move when their inside is rebuilt
// (issue 15): the KTAP of `unit --origin kernel`, `stress anon 8 4` and
// `wp-mremap` (names, results, diagnostics) and their JSON and JUnit
// documents, compared with golden files written from the binary built before
// the change (test/golden/make.ts says how to regenerate them), with what
// varies from run to run masked (test/support/golden.ts). Results depend on the
// kernel and the machine's huge-page sizes, so the comparison runs where the
// golden files were taken (test/golden/machine.json); elsewhere it skips,
// naming the difference.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { childEnv, fromSource, REPO } from "./support/binary.ts";
import { GOLDEN_COMMANDS, GOLDEN_FORMATS, machineKey, normalize, normalizeKtap } from "./support/golden.ts";

const GOLDEN = join(REPO, "test/golden");
const recorded = JSON.parse(readFileSync(join(GOLDEN, "machine.json"), "utf8")) as Record<string, unknown>;
const here = machineKey();
const differs = Object.keys(recorded).filter((k) => JSON.stringify(recorded[k]) !== JSON.stringify(here[k]));
const why =
  differs.length === 0
    ? undefined
    : `golden files were taken on another machine (${differs.map((k) => `${k}: ${JSON.stringify(recorded[k])} there, ${JSON.stringify(here[k])} here`).join("; ")})`;

function golden(stem: string, ext: string): { text: string; code: number } {
  return {
    text: readFileSync(join(GOLDEN, `${stem}.${ext}`), "utf8"),
    code: Number(readFileSync(join(GOLDEN, `${stem}.${ext}.code`), "utf8")),
  };
}

describe("the normalization keeps what must not change", () => {
  test("a renamed result, another verdict or a changed diagnostic shows; timings and counts do not", () => {
    const a =
      "TAP version 13\n1..2\n# handler: 16 missing, 0 wp faults at 0x7f00\nok 1 zeropage on anon\nok 2 move on anon # SKIP feature missing: MOVE\n";
    const b = a.replace("16 missing", "15 missing").replace("0x7f00", "0x7e00");
    expect(normalizeKtap(b)).toBe(normalizeKtap(a));
    for (const changed of [
      a.replace("zeropage on anon", "zeropage on shmem"),
      a.replace("ok 1", "not ok 1"),
      a.replace("SKIP feature missing: MOVE", "SKIP feature missing: POISON"),
      a.replace("handler:", "handlers:"),
      a.replace("ok 2", "ok 3"),
    ]) {
      expect(normalizeKtap(changed)).not.toBe(normalizeKtap(a));
    }
  });
});

describe.skipIf(why !== undefined)(`output as the pre-change binary gave it${why ? ` (${why})` : ""}`, () => {
  for (const c of GOLDEN_COMMANDS) {
    for (const f of GOLDEN_FORMATS) {
      test(`${c.args.join(" ")} --format ${f.format}`, () => {
        const p = Bun.spawnSync([...fromSource(), ...c.args, "--format", f.format], {
          cwd: REPO,
          env: childEnv(),
          stdout: "pipe",
          stderr: "pipe",
        });
        const want = golden(c.stem, f.ext);
        expect(normalize(f.ext, p.stdout.toString())).toBe(want.text);
        expect(p.exitCode).toBe(want.code);
      }, 120_000);
    }
  }
});
