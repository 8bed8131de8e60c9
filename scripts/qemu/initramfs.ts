// An initramfs for a QEMU boot: busybox-static and the glibc runtime of the
// guest's architecture (both downloaded from Debian with apt), the files to
// test, and an /init that runs a list of shell commands and prints each one's
// stdout, stderr and exit status between marker lines on the console, then
// the kernel log, then powers off. See boot.ts for the reading side.
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { aptRoot, download } from "./apt.ts";
import { run } from "./proc.ts";

/** The suite the guest's userland (busybox, glibc) comes from, whatever the kernel's. */
export const USERLAND_SUITE = "bookworm";
/** Console marker; lines starting with it are ours, the rest is the kernel or the commands. */
export const MARK = "@@uffd-qemu";

export const TRIPLET: Record<string, string> = { amd64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

export interface InitramfsSpec {
  cache: string;
  arch: string;
  /** Host files to put into the guest: guest path → host path. */
  files: Record<string, string>;
  /** Shell command lines, run one after another by /init. */
  commands: string[];
  /** Seconds each command may run (busybox timeout), 0 for no limit. */
  commandTimeoutS: number;
  /** Where to write the cpio archive. */
  out: string;
  /** Debian packages (of the guest arch) whose files go into the guest whole, besides busybox-static and libc6. */
  extraPackages?: string[];
}

function unpack(deb: string, dir: string): void {
  run(["dpkg-deb", "-x", deb, dir], { what: `dpkg-deb -x ${deb}` });
}

/** /init: mounts, then each command with markers around its output, then dmesg, then power off. */
function initScript(commands: string[], timeoutS: number): string {
  const limit = timeoutS > 0 ? `timeout ${timeoutS} ` : "";
  const body = commands
    .map((c, i) => {
      const n = i + 1;
      return [
        `echo "${MARK} begin ${n}"`,
        `s=$(date +%s)`,
        // stdout is kept in a file and also shown live (marked, for progress); the exit status goes through a file.
        `( ${limit}sh -c ${shellQuote(c)} 2>/out/${n}.err </dev/null; echo $? >/out/${n}.rc ) | tee /out/${n}.out |`,
        `  while IFS= read -r l; do echo "${MARK} live ${n} $l"; done`,
        `rc=$(cat /out/${n}.rc)`,
        `e=$(date +%s)`,
        `echo "${MARK} stdout ${n}"; cat /out/${n}.out`,
        `echo "${MARK} stderr ${n}"; cat /out/${n}.err`,
        `echo "${MARK} end ${n} rc=$rc secs=$((e - s))"`,
      ].join("\n");
    })
    .join("\n");
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin HOME=/root TERM=dumb
mkdir -p /proc /sys /dev /tmp /run /out /root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ip link set lo up 2>/dev/null
echo "${MARK} boot $(uname -r) $(uname -m) cpus=$(nproc) mem_kb=$(awk '/MemTotal/{print $2}' /proc/meminfo)"
${body}
echo "${MARK} dmesg"
dmesg
echo "${MARK} done"
sync
poweroff -f
`;
}

export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Build the cpio (newc, uncompressed) archive; returns its path. */
export function buildInitramfs(spec: InitramfsSpec): string {
  const triplet = TRIPLET[spec.arch];
  if (!triplet) throw new Error(`no glibc triplet known for '${spec.arch}'`);
  const root = aptRoot(spec.cache, USERLAND_SUITE, spec.arch);
  const stage = `${spec.out}.d`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const pkg of ["busybox-static", "libc6", ...(spec.extraPackages ?? [])]) unpack(download(root, pkg, spec.cache), stage);
  // The runtime only: documentation and character-set converters are not needed.
  for (const dropped of ["usr/share", `usr/lib/${triplet}/gconv`, "usr/include"]) {
    rmSync(join(stage, dropped), { recursive: true, force: true });
  }
  // busybox-static ships /bin/busybox (older: /usr/bin); /init calls /bin/busybox.
  mkdirSync(join(stage, "bin"), { recursive: true });
  if (!existsSync(join(stage, "bin/busybox"))) renameSync(join(stage, "usr/bin/busybox"), join(stage, "bin/busybox"));
  for (const [guest, host] of Object.entries(spec.files)) {
    const dest = join(stage, guest);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(host, dest);
    chmodSync(dest, 0o755);
  }
  writeFileSync(join(stage, "init"), initScript(spec.commands, spec.commandTimeoutS), { mode: 0o755 });
  run(["sh", "-c", `cd "$1" && find . -mindepth 1 | cpio -o -H newc --quiet -R 0:0 > "$2"`, "sh", stage, spec.out], {
    what: "cpio of the initramfs",
  });
  rmSync(stage, { recursive: true, force: true });
  return spec.out;
}
