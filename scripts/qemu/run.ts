// Boot a Debian kernel under QEMU with the uffd-suite binary in an initramfs,
// run uffd-suite commands there, and print their KTAP.
//
//   bun scripts/qemu/run.ts --arch arm64 --kernel bookworm [--cache /work/cache]
//       [--binary dist/uffd-suite-arm64] [--cpu max] [--mem-mib 3072] [--cpus 2]
//       [--timeout S] [--command-timeout S] [--out DIR] [--kvm] [--file GUEST=HOST ...] [-- 'uffd-suite unit' ...]
//
// --kernel names a Debian suite (bullseye = 5.10, bookworm = 6.1,
// bookworm-backports / trixie = 6.12); its current linux-image-<arch> is used.
// Downloads (apt lists, .debs, unpacked kernels) stay in --cache. Each command's
// stdout goes to our stdout (KTAP), a summary to stderr, and everything
// (console log, each command's stdout and stderr, dmesg, summary.json) to --out.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { boot, type BootResult } from "./boot.ts";
import { buildInitramfs } from "./initramfs.ts";
import { debianKernel } from "./kernel.ts";
import { ensureTools } from "./proc.ts";

const repo = resolve(import.meta.dir, "../..");
const DEFAULT_COMMANDS = ["uffd-suite features", "uffd-suite unit", "uffd-suite stress anon 16 4"];

function usage(msg: string): never {
  process.stderr.write(`qemu/run.ts: ${msg}\n`);
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) usage(`--${name} wants a whole number > 0, not '${v}'`);
  return n;
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        arch: { type: "string", default: "amd64" },
        kernel: { type: "string", default: "bookworm" },
        cache: { type: "string", default: "/work/cache" },
        binary: { type: "string" },
        cpu: { type: "string" },
        "mem-mib": { type: "string" },
        cpus: { type: "string" },
        timeout: { type: "string" },
        "command-timeout": { type: "string" },
        out: { type: "string" },
        kvm: { type: "boolean", default: false },
        file: { type: "string", multiple: true },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    usage((e as Error).message);
  }
  const v = parsed.values;
  const arch = v.arch === "x86_64" || v.arch === "x64" ? "amd64" : v.arch === "aarch64" ? "arm64" : v.arch!;
  if (arch !== "amd64" && arch !== "arm64") usage(`--arch wants amd64 or arm64, not '${v.arch}'`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return {
    arch,
    kernel: v.kernel!,
    cache: resolve(v.cache!),
    binary: resolve(v.binary ?? join(repo, arch === "arm64" ? "dist/uffd-suite-arm64" : "dist/uffd-suite")),
    cpu: v.cpu,
    memMiB: positiveInt("mem-mib", v["mem-mib"], 3072),
    cpus: positiveInt("cpus", v.cpus, 2),
    timeoutS: positiveInt("timeout", v.timeout, 3600),
    commandTimeoutS: positiveInt("command-timeout", v["command-timeout"], 1800),
    out: resolve(v.out ?? join(v.cache!, "runs", `${arch}-${v.kernel}${v.cpu ? `-${v.cpu}` : ""}-${stamp}`)),
    kvm: v.kvm!,
    commands: parsed.positionals.length > 0 ? parsed.positionals : DEFAULT_COMMANDS,
    files: Object.fromEntries(
      (v.file ?? []).map((f) => {
        const eq = f.indexOf("=");
        if (eq <= 0) usage(`--file wants GUEST_PATH=HOST_PATH, not '${f}'`);
        return [f.slice(0, eq).replace(/^\/+/, ""), resolve(f.slice(eq + 1))];
      }),
    ),
  };
}

/** One line per command: exit status, time, the KTAP totals and every not-ok line. */
export function summarize(commands: string[], r: BootResult): string {
  const lines = [`guest: ${r.guest ?? "did not boot"}; ${r.completed ? "completed" : "did NOT complete"} in ${r.wallS.toFixed(0)} s`];
  for (const c of r.commands) {
    const totals = /^# Totals: .*$/m.exec(c.stdout)?.[0] ?? "";
    lines.push(`[${c.n}] ${commands[c.n - 1]}: rc=${c.rc} ${c.secs} s ${totals}`);
    for (const bad of c.stdout.split("\n").filter((l) => /^not ok /.test(l))) lines.push(`    ${bad}`);
    for (const crash of c.stderr.split("\n").filter((l) => /panic|Segmentation|Illegal|SIGSEGV|SIGILL|Trap/.test(l))) {
      lines.push(`    stderr: ${crash.slice(0, 200)}`);
    }
  }
  const kernelNotes = r.dmesg.split("\n").filter((l) => /segfault|traps:|Unable to handle|BUG|WARNING|Oops|unhandled/.test(l));
  for (const k of kernelNotes.slice(0, 20)) lines.push(`    dmesg: ${k}`);
  return lines.join("\n");
}

async function main(): Promise<void> {
  const o = options();
  ensureTools({
    cpio: "cpio",
    "dpkg-deb": "dpkg",
    [o.arch === "arm64" ? "qemu-system-aarch64" : "qemu-system-x86_64"]: o.arch === "arm64" ? "qemu-system-arm" : "qemu-system-x86",
  });
  if (!(await Bun.file(o.binary).exists())) usage(`no binary at ${o.binary} (npm run build${o.arch === "arm64" ? ":arm64" : ""})`);
  mkdirSync(o.out, { recursive: true });
  const kernel = debianKernel(o.cache, o.kernel, o.arch);
  process.stderr.write(`kernel ${kernel.pkg}; building the initramfs\n`);
  const initramfs = buildInitramfs({
    cache: o.cache,
    arch: o.arch,
    files: { "bin/uffd-suite": o.binary, ...o.files },
    commands: o.commands,
    commandTimeoutS: o.commandTimeoutS,
    out: join(o.out, "initramfs.cpio"),
  });
  process.stderr.write(`booting (${o.arch}, ${o.memMiB} MiB, ${o.cpus} cpus); console log in ${join(o.out, "console.log")}\n`);
  const r = await boot({
    arch: o.arch,
    vmlinuz: kernel.vmlinuz,
    initramfs,
    memMiB: o.memMiB,
    cpus: o.cpus,
    cpu: o.cpu,
    kvm: o.kvm,
    timeoutS: o.timeoutS,
    log: join(o.out, "console.log"),
    onMark: (l) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${l.trim()}\n`),
  });
  for (const c of r.commands) {
    writeFileSync(join(o.out, `${c.n}.out`), c.stdout);
    writeFileSync(join(o.out, `${c.n}.err`), c.stderr);
    process.stdout.write(`# ==== ${o.commands[c.n - 1]} (rc=${c.rc}, ${c.secs} s)\n${c.stdout}\n`);
  }
  writeFileSync(join(o.out, "dmesg.txt"), r.dmesg);
  const summary = summarize(o.commands, r);
  writeFileSync(join(o.out, "summary.txt"), `kernel ${kernel.pkg} arch ${o.arch} cpu ${o.cpu ?? "default"}\n${summary}\n`);
  writeFileSync(
    join(o.out, "summary.json"),
    JSON.stringify({ kernel: kernel.pkg, arch: o.arch, cpu: o.cpu, commandLines: o.commands, ...r }, null, 1),
  );
  process.stderr.write(`${summary}\nresults in ${o.out}\n`);
  process.exit(r.completed && r.commands.every((c) => c.rc === 0) ? 0 : 1);
}

if (import.meta.main) await main();
