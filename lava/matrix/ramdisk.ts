// What a target boots: the kernel out of Debian's linux-image package, and a
// ramdisk of busybox (static) and glibc for the target's architecture with an
// /init that mounts the usual file systems and leaves a shell on the console
// for LAVA. The binary and LAVA's test overlay are added by LAVA itself.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PrivateApt } from "./apt.ts";
import { kernelPackage } from "./apt.ts";
import { MatrixError, run, sh } from "./run.ts";
import type { Target } from "./targets.ts";

export const PROMPT = "uffd-ramdisk# ";

const INIT = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /dev/hugepages
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t hugetlbfs hugetlbfs /dev/hugepages 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname uffd-target
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PS1='${PROMPT}'
echo "uffd-suite ramdisk up: $(uname -r) $(uname -m)"
exec setsid cttyhack /bin/sh
`;

export interface Boot {
  readonly kernel: string;
  readonly kernelVersion: string;
  readonly ramdisk: string;
}

/** The kernel image of a target's series, extracted once. */
function kernelImage(apt: PrivateApt, target: Target, dir: string): { path: string; version: string } {
  const pkg = kernelPackage(apt, target.kernel, target.debArch);
  const out = join(dir, `${pkg.name}_${pkg.version}`);
  const image = join(out, "vmlinuz");
  if (!existsSync(image)) {
    const deb = apt.download(pkg.name, target.debArch, pkg.version);
    mkdirSync(out, { recursive: true });
    sh(`dpkg-deb --fsys-tarfile '${deb}' | tar -x -C '${out}' --wildcards './boot/vmlinuz-*'`);
    const found = readdirSync(join(out, "boot")).find((f) => f.startsWith("vmlinuz-"));
    if (!found) throw new MatrixError(`${deb}: no /boot/vmlinuz-*`);
    run(["mv", join(out, "boot", found), image]);
    rmSync(join(out, "boot"), { recursive: true, force: true });
  }
  return { path: image, version: `${pkg.name} ${pkg.version}` };
}

/** busybox + glibc for one architecture as a gzipped newc cpio, built once per package versions. */
function ramdisk(apt: PrivateApt, target: Target, dir: string): string {
  const busybox = apt.download("busybox-static", target.debArch);
  const libc = apt.download("libc6", target.debArch);
  const key = [busybox, libc].map((p) => p.split("/").pop()!.replace(/\.deb$/, "").replace(/%3a/g, "-")).join("+");
  const out = join(dir, `ramdisk-${target.debArch}-${key}.cpio.gz`);
  if (existsSync(out)) return out;
  const root = join(dir, `root-${target.debArch}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const deb of [busybox, libc]) run(["dpkg-deb", "-x", deb, root]);
  rmSync(join(root, "usr/share"), { recursive: true, force: true });
  for (const gconv of ["usr/lib/x86_64-linux-gnu/gconv", "usr/lib/aarch64-linux-gnu/gconv"]) rmSync(join(root, gconv), { recursive: true, force: true });
  // Every applet as a link to busybox (the list is the same for every
  // architecture of one Debian version: the host's busybox gives it).
  const applets = run(["busybox", "--list-full"]).split("\n").filter((a) => a && a !== "bin/busybox");
  for (const applet of applets) {
    const path = join(root, applet);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync("/bin/busybox", path);
  }
  for (const d of ["dev", "proc", "sys", "tmp", "run", "root", "etc", "usr/local/bin"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "init"), INIT);
  chmodSync(join(root, "init"), 0o755);
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  sh(`cd '${root}' && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > '${out}.part' && mv '${out}.part' '${out}'`);
  rmSync(root, { recursive: true, force: true });
  return out;
}

export function prepareBoot(apt: PrivateApt, target: Target, cache: string): Boot {
  const dir = join(cache, "boot");
  mkdirSync(dir, { recursive: true });
  const k = kernelImage(apt, target, dir);
  return { kernel: k.path, kernelVersion: k.version, ramdisk: ramdisk(apt, target, dir) };
}
