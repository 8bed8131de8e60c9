// npm run matrix [-- --kernel 6.12 --arch x86_64 [--cache DIR] -- unit -f move]
// Runs uffd-suite under the real LAVA dispatcher (lava-run) on QEMU for each
// target (Debian 6.1 and 6.12 on x86_64, Debian 6.1 on arm64) and prints one
// table: target, pass/skip/fail, wall time, the failing cases with their
// first diagnostic, known kernel bugs apart. Exit code 1 on any other
// failure, 2 on bad usage. Needs root (apt-get install, lava-run).
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ensureTools, run } from "../../scripts/qemu/proc.ts";
import { jobDefinition, deviceConfig } from "./job.ts";
import { prepareBoot } from "./ramdisk.ts";
import { readRun } from "./report.ts";
import { LavaLogReader } from "./results.ts";
import { pickTargets, type Target } from "./targets.ts";
import { formatTable, type Row } from "./table.ts";
import { judge } from "./verdict.ts";

const REPO = resolve(import.meta.dir, "../..");
/** Host tools and the Debian packages that bring them. */
const HOST_TOOLS: Record<string, string> = {
  "lava-run": "lava-dispatcher",
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-system-aarch64": "qemu-system-arm",
  busybox: "busybox-static",
  cpio: "cpio",
  git: "git",
};

interface Options {
  /** Print the table of earlier runs' target folders instead of running. */
  readonly report?: readonly string[];
  readonly kernel?: string;
  readonly arch?: string;
  readonly cache: string;
  readonly command: string;
  readonly testMinutes: number;
}

function usage(msg: string): never {
  process.stderr.write(
    `matrix: ${msg}\nusage: npm run matrix -- [--kernel 6.1|6.12] [--arch x86_64|arm64] [--cache DIR] [--minutes N] [-- COMMAND...] | --report TARGET_DIR...\n`,
  );
  process.exit(2);
}

function parseOptions(argv: readonly string[]): Options {
  let kernel: string | undefined;
  let arch: string | undefined;
  let cache =
    process.env.UFFD_SUITE_CACHE ?? (existsSync("/work/cache") ? "/work/cache" : join(process.env.HOME ?? "/root", ".cache/uffd-suite"));
  let minutes = 45;
  const report: string[] = [];
  // QEMU without KVM, on a shared machine, is tens of times slower than
  // hardware: each case gets 4 minutes instead of 1 (children: 3 of them).
  let command = "unit --timeout 240";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    // The command follows "--" (Bun itself takes a "--" that comes first) or the options.
    if (a === "--" || !a.startsWith("-")) {
      command = argv.slice(a === "--" ? i + 1 : i).join(" ");
      if (!command.trim()) usage("an empty command after --");
      break;
    } else if (a === "--kernel") kernel = value();
    else if (a === "--arch") arch = value();
    else if (a === "--cache") cache = resolve(value());
    else if (a === "--report") report.push(resolve(value()));
    else if (a === "--minutes") {
      minutes = Number(value());
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > 600) usage(`--minutes: a whole number from 1 to 600, not ${argv[i]}`);
    } else usage(`unknown option ${a}`);
  }
  if (/['\n]/.test(command)) usage("the command may not hold a quote or a newline");
  for (const dir of report)
    if (!existsSync(join(dir, "lava-run.log"))) usage(`--report ${dir}: no lava-run.log there (give a target folder of an earlier run)`);
  return { ...(report.length ? { report } : {}), kernel, arch, cache, command, testMinutes: minutes };
}

/** The binary for a bun build target, built from this working tree. */
function buildBinary(target: string, dir: string): string {
  const out = join(dir, `uffd-suite-${target}`);
  run(["nice", "-n", "5", process.execPath, join(REPO, "build.ts"), "--target", target, "--outfile", out], {
    what: `build for ${target}`,
    cwd: REPO,
  });
  return out;
}

/** A tar holding usr/local/bin/uffd-suite. */
function binaryTar(binary: string, dir: string): string {
  const stage = join(dir, "stage");
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, "usr/local/bin"), { recursive: true });
  cpSync(binary, join(stage, "usr/local/bin/uffd-suite"));
  run(["chmod", "755", join(stage, "usr/local/bin/uffd-suite")], { what: "chmod" });
  const tar = `${binary}.tar`;
  run(["tar", "-C", stage, "--owner=0", "--group=0", "-cf", tar, "usr"], { what: "tar of the binary" });
  rmSync(stage, { recursive: true, force: true });
  return tar;
}

/** A git repository holding this tree's lava/ folder (LAVA clones test definitions from git). */
function definitionsRepo(dir: string): string {
  const repo = join(dir, "definitions");
  rmSync(repo, { recursive: true, force: true });
  mkdirSync(repo, { recursive: true });
  cpSync(join(REPO, "lava/uffd-suite.yaml"), join(repo, "lava/uffd-suite.yaml"));
  cpSync(join(REPO, "lava/uffd-suite.sh"), join(repo, "lava/uffd-suite.sh"));
  const git = ["-c", "user.name=uffd-suite matrix", "-c", "user.email=matrix@localhost", "-c", "init.defaultBranch=main"];
  for (const args of [
    ["init", "-q"],
    ["add", "lava"],
    ["commit", "-q", "-m", "uffd-suite test definition"],
  ]) {
    run(["git", ...git, ...args], { what: `git ${args[0]} (test definition repository)`, cwd: repo });
  }
  return repo;
}

async function runJob(
  target: Target,
  jobFile: string,
  deviceFile: string,
  outDir: string,
  jobId: number,
): Promise<{ log: ReturnType<LavaLogReader["result"]>; wallS: number }> {
  const started = performance.now();
  const logFile = Bun.file(join(outDir, "lava-run.log")).writer();
  const reader = new LavaLogReader();
  const proc = Bun.spawn(
    ["nice", "-n", "5", "lava-run", "--device", deviceFile, "--job-id", String(jobId), "--output-dir", join(outDir, "lava"), jobFile],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let seen = 0;
  let failed = 0;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        logFile.write(`${line}\n`);
        const c = reader.line(line);
        if (!c) continue;
        if (c.definition !== "lava") seen++;
        if (c.result === "fail") {
          failed++;
          process.stderr.write(
            `  ${target.id}: fail ${c.definition === "lava" ? "lava " : ""}${c.name}${c.notes[0] ? `: ${c.notes[0]}` : ""}\n`,
          );
        }
        if (seen > 0 && seen % 25 === 0 && c.definition !== "lava")
          process.stderr.write(`  ${target.id}: ${seen} cases (${failed} failed)\n`);
      }
    }
  };
  await Promise.all([pump(proc.stdout), pump(proc.stderr), proc.exited]);
  await logFile.end();
  return { log: reader.result(), wallS: (performance.now() - started) / 1000 };
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.report) {
    const { rows, command } = readRun(opts.report);
    const totalS = rows.reduce((n, r) => n + r.wallS, 0);
    process.stdout.write(
      formatTable(rows, {
        command,
        totalS,
        resultsDir: opts.report
          .map((d) => dirname(d))
          .filter((d, i, a) => a.indexOf(d) === i)
          .join(", "),
      }),
    );
    return rows.some((r) => r.verdict.unknown.length > 0) ? 1 : 0;
  }
  const targets = pickTargets(opts.kernel, opts.arch);
  if (targets.length === 0)
    usage(
      `no target for${opts.kernel ? ` --kernel ${opts.kernel}` : ""}${opts.arch ? ` --arch ${opts.arch}` : ""} (there are: 6.1-x86_64, 6.12-x86_64, 6.1-arm64)`,
    );
  const t0 = performance.now();
  ensureTools(HOST_TOOLS);
  mkdirSync(opts.cache, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const resultsDir = join(opts.cache, "matrix", stamp);
  const work = join(resultsDir, "work");
  mkdirSync(work, { recursive: true });
  const rows: Row[] = [];
  try {
    const definitions = definitionsRepo(work);
    const tars = new Map<string, string>();
    for (const [i, target] of targets.entries()) {
      const outDir = join(resultsDir, target.id);
      mkdirSync(outDir, { recursive: true });
      process.stderr.write(`matrix: ${target.id}: preparing\n`);
      let tar = tars.get(target.buildTarget);
      if (!tar) {
        tar = binaryTar(buildBinary(target.buildTarget, work), work);
        tars.set(target.buildTarget, tar);
      }
      const boot = prepareBoot(target, opts.cache);
      const deviceFile = join(outDir, "device.yaml");
      const jobFile = join(outDir, "job.yaml");
      writeFileSync(deviceFile, `${JSON.stringify(deviceConfig(target), null, 1)}\n`);
      writeFileSync(
        jobFile,
        `${JSON.stringify(jobDefinition({ target, boot, binaryTar: tar, definitions, command: opts.command, testMinutes: opts.testMinutes }), null, 1)}\n`,
      );
      process.stderr.write(`matrix: ${target.id}: lava-run (${boot.kernelVersion}), log in ${join(outDir, "lava-run.log")}\n`);
      const { log, wallS } = await runJob(target, jobFile, deviceFile, outDir, (Date.now() % 1_000_000_000) + i);
      rows.push({ target: target.id, kernel: boot.kernelVersion, wallS, verdict: judge(log, opts.command) });
    }
  } finally {
    // The binaries and their tars (over 100 MB each) go; the jobs and logs stay.
    rmSync(work, { recursive: true, force: true });
  }
  const totalS = (performance.now() - t0) / 1000;
  process.stdout.write(formatTable(rows, { command: opts.command, totalS, resultsDir }));
  return rows.some((r) => r.verdict.unknown.length > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    // A tool or download that failed: one line, no stack trace.
    process.stderr.write(`matrix: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
