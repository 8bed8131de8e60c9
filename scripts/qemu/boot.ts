// Boot a kernel and initramfs (made by initramfs.ts) under QEMU, with the
// console on a serial port, and read back what each command printed.
import { accessSync, constants, createWriteStream } from "node:fs";
import { MARK } from "./initramfs.ts";

export interface BootSpec {
  arch: string;
  vmlinuz: string;
  initramfs: string;
  memMiB: number;
  cpus: number;
  /** QEMU -cpu model; default: host with KVM, else max. */
  cpu?: string;
  /** Use KVM when /dev/kvm is there and the guest arch is the host's (default true). */
  kvm?: boolean;
  /** Whole boot limit in seconds. */
  timeoutS: number;
  /** Full console log (kernel and commands) is written here. */
  log: string;
  /** Called with each marker line as it arrives (progress). */
  onMark?: (line: string) => void;
}

export interface CommandResult {
  n: number;
  stdout: string;
  stderr: string;
  rc: number | null;
  secs: number | null;
}

export interface BootResult {
  /** `uname -r` / `uname -m` / cpus / memory as the guest saw them, from the boot marker. */
  guest: string | null;
  commands: CommandResult[];
  dmesg: string;
  /** The guest reached the end of /init. */
  completed: boolean;
  wallS: number;
  qemuExit: number | null;
}

function kvmUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The QEMU command line for a boot. */
export function qemuCommand(spec: BootSpec): string[] {
  const hostArch = process.arch === "x64" ? "amd64" : process.arch;
  const kvm = (spec.kvm ?? true) && spec.arch === hostArch && kvmUsable();
  const common = [
    "-m",
    `${spec.memMiB}M`,
    "-smp",
    String(spec.cpus),
    "-kernel",
    spec.vmlinuz,
    "-initrd",
    spec.initramfs,
    "-nographic",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
  ];
  const append = "quiet loglevel=3 panic=-1 rdinit=/init";
  if (spec.arch === "amd64") {
    return [
      "qemu-system-x86_64",
      "-M",
      "q35",
      "-accel",
      kvm ? "kvm" : "tcg",
      "-cpu",
      spec.cpu ?? (kvm ? "host" : "max"),
      ...common,
      "-append",
      `console=ttyS0 no_timer_check ${append}`,
    ];
  }
  if (spec.arch === "arm64") {
    return [
      "qemu-system-aarch64",
      "-M",
      "virt",
      "-accel",
      kvm ? "kvm" : "tcg,thread=multi",
      "-cpu",
      spec.cpu ?? (kvm ? "host" : "max"),
      ...common,
      "-append",
      `console=ttyAMA0 ${append}`,
    ];
  }
  throw new Error(`no QEMU machine known for '${spec.arch}'`);
}

/** Split the console text into the commands' outputs. */
export function parseConsole(text: string): Omit<BootResult, "wallS" | "qemuExit"> {
  const lines = text.replaceAll("\r", "").split("\n");
  const result: Omit<BootResult, "wallS" | "qemuExit"> = { guest: null, commands: [], dmesg: "", completed: false };
  let sink: string[] | null = null;
  let current: { n: number; out: string[]; err: string[] } | null = null;
  const dmesg: string[] = [];
  for (const line of lines) {
    const at = line.indexOf(`${MARK} `);
    if (at < 0) {
      sink?.push(line);
      continue;
    }
    const [word, ...rest] = line.slice(at + MARK.length + 1).split(" ");
    if (word === "boot") result.guest = rest.join(" ");
    else if (word === "begin") current = { n: Number(rest[0]), out: [], err: [] };
    else if (word === "stdout") sink = current?.out ?? null;
    else if (word === "stderr") sink = current?.err ?? null;
    else if (word === "end" && current) {
      const rc = /rc=(\d+)/.exec(line)?.[1];
      const secs = /secs=(\d+)/.exec(line)?.[1];
      result.commands.push({
        n: current.n,
        stdout: current.out.join("\n"),
        stderr: current.err.join("\n"),
        rc: rc === undefined ? null : Number(rc),
        secs: secs === undefined ? null : Number(secs),
      });
      current = null;
      sink = null;
    } else if (word === "dmesg") sink = dmesg;
    else if (word === "done") {
      result.completed = true;
      sink = null;
    }
  }
  result.dmesg = dmesg.join("\n");
  return result;
}

/** Boot, wait for power-off (or the time limit), and return what the guest printed. */
export async function boot(spec: BootSpec): Promise<BootResult> {
  const cmd = qemuCommand(spec);
  const log = createWriteStream(spec.log);
  log.write(`# ${cmd.join(" ")}\n`);
  const started = performance.now();
  const proc = Bun.spawn(["nice", "-n", "5", ...cmd], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), spec.timeoutS * 1000);
  let text = "";
  let partial = "";
  const decoder = new TextDecoder();
  const errText = new Response(proc.stderr).text();
  for await (const chunk of proc.stdout) {
    const s = decoder.decode(chunk, { stream: true });
    text += s;
    log.write(s);
    partial += s;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const p of parts) if (p.includes(MARK)) spec.onMark?.(p.replace("\r", ""));
  }
  const qemuExit = await proc.exited;
  clearTimeout(timer);
  const err = await errText;
  if (err.trim()) log.write(`\n# qemu stderr:\n${err}`);
  await new Promise((r) => log.end(r));
  return { ...parseConsole(text), wallS: (performance.now() - started) / 1000, qemuExit };
}
