// `npm run mutate -- <file>...`: StrykerJS mutation testing of one source
// file at a time, its command runner driving `bun test` on only the test
// files that exercise that file (MUTATE_TESTS below). Slow (one test run per
// mutant), so never part of npm test. Reports land in reports/mutation/.
//   npm run mutate -- src/report/ktap.ts
//   npm run mutate -- all        (every file in MUTATE_TESTS)
// A file may carry a line range as Stryker reads it: src/stress/stress.ts:459-482.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const REPO = join(import.meta.dir, "..");

/** Source file -> the test command that exercises it (as narrow as it can be, so each mutant runs fast). */
export const MUTATE_TESTS: Readonly<Record<string, { tests: string; timeoutMs?: number; concurrency?: number }>> = {
  // --bail and a short test timeout: a mutant that leaves a fault unserved fails in seconds, not at the run limit.
  "src/harness/serve.ts": { tests: "--bail --timeout 5000 test/serve.test.ts test/serve-paths.test.ts", timeoutMs: 10_000, concurrency: 2 },
  "src/harness/counters.ts": { tests: "test/counters.test.ts" },
  "src/report/ktap.ts": { tests: "test/ktap.test.ts" },
  "src/unit/run-case.ts": { tests: "test/errors-are-failures.test.ts test/oracles-pages.test.ts" },
  "src/harness/touch.ts": { tests: "test/touch.test.ts" },
  "src/harness/source.ts": { tests: "test/oracles-pages.test.ts test/touch.test.ts test/stress-verify.test.ts" },
  "src/stress/verify.ts": { tests: "test/stress-verify.test.ts" },
  "src/stress/protocol.ts": { tests: "test/stress-verify.test.ts" },
  "src/unit/cases/events.ts": {
    tests:
      'test/case-rows.test.ts test/events-checks.test.ts test/oracles-count-plants.test.ts test/oracles-wrong-page.test.ts -t "events|childFailure|olderKernelStop|expectedCounts|handlerNote"',
  },
  "src/unit/cases/sigbus.ts": { tests: "test/case-rows.test.ts test/oracles-count-plants.test.ts -t sigbus" },
  "src/sys/native/faults.ts": { tests: 'test/native-faults.test.ts test/oracles-count-plants.test.ts -t "sigbus|poison"' },
};

function bun(): string {
  return join(REPO, "node_modules/.bin/bun");
}

// --tests "<bun test arguments>" replaces the mapped test files (to score the tests as they were, say).
const argv = process.argv.slice(2);
const at = argv.indexOf("--tests");
const override = at >= 0 ? argv.splice(at, 2)[1] : undefined;
const args = argv;
const files = args.length === 1 && args[0] === "all" ? Object.keys(MUTATE_TESTS) : args;
if (files.length === 0) {
  console.error(`usage: npm run mutate -- <file>... | all   (files: ${Object.keys(MUTATE_TESTS).join(", ")})`);
  process.exit(2);
}
let failed = 0;
for (const spec of files) {
  const file = spec.replace(/:\d+-\d+$/, "");
  const entry = MUTATE_TESTS[file];
  if (!entry) {
    console.error(`mutate: no tests are mapped for ${file} (scripts/mutate.ts MUTATE_TESTS)`);
    process.exit(2);
  }
  const name = `${basename(file, ".ts")}${override ? `-${process.env.MUTATE_LABEL ?? "custom"}` : ""}`;
  const dir = join(REPO, "reports/mutation");
  mkdirSync(dir, { recursive: true });
  const config = {
    $schema: "./node_modules/@stryker-mutator/core/schema/stryker-schema.json",
    mutate: [spec],
    testRunner: "command",
    commandRunner: { command: `${bun()} test ${override ?? entry.tests}` },
    coverageAnalysis: "off",
    concurrency: entry.concurrency ?? 1,
    timeoutMS: entry.timeoutMs ?? 20_000,
    timeoutFactor: 1.5,
    reporters: ["clear-text", "progress", "json"],
    jsonReporter: { fileName: `reports/mutation/${name}.json` },
    clearTextReporter: { allowColor: false, logTests: false },
    // One sandbox folder per file, so two runs never clean up each other's.
    tempDirName: `.stryker-tmp/${name}`,
    cleanTempDir: "always",
    ignorePatterns: ["dist", "reports", "bench/out", ".carry", ".stryker-tmp"],
    thresholds: { high: 85, low: 70, break: null },
  };
  const path = join(dir, `${name}.stryker.json`);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  console.log(`mutate ${spec}: ${config.commandRunner.command}`);
  const p = Bun.spawnSync(["node", join(REPO, "node_modules/@stryker-mutator/core/bin/stryker.js"), "run", path], {
    cwd: REPO,
    stdout: "inherit",
    stderr: "inherit",
  });
  if (p.exitCode !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
