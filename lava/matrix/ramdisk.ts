// What a target boots: the kernel out of Debian's linux-image package, and a
// ramdisk of busybox (static) and glibc for the target's architecture with an
// /init that mounts the usual file systems and leaves a shell on the console
// for LAVA. The binary and LAVA's test overlay are added by LAVA itself.
// Debian's packages come through the private apt set-up of scripts/qemu.
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { aptRoot, download } from "../../scripts/qemu/apt.ts";
import { USERLAND_SUITE } from "../../scripts/qemu/initramfs.ts";
import { debianKernel } from "../../scripts/qemu/kernel.ts";
import { run } from "../../scripts/qemu/proc.ts";
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
# Kernel messages off the console from here on (dmesg keeps them): the test
# shell's signal lines share it, and an MCE line of a poison case once cut
# one in two. LAVA has seen its "Linux version" line by now.
echo 1 > /proc/sys/kernel/printk
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

/** busybox + glibc for one architecture as a gzipped newc cpio, built once per package versions. */
function ramdisk(cache: string, target: Target, dir: string): string {
  const apt = aptRoot(cache, USERLAND_SUITE, target.debArch);
  const busybox = download(apt, "busybox-static", cache);
  const libc = download(apt, "libc6", cache);
  // The init script is part of the key: a changed one makes a new ramdisk.
  const key = [...[busybox, libc].map((p) => basename(p, ".deb").replace(/%3a/g, "-")), Bun.hash(INIT).toString(16)].join("+");
  const out = join(dir, `ramdisk-${target.debArch}-${key}.cpio.gz`);
  if (existsSync(out)) return out;
  const root = join(dir, `root-${target.debArch}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const deb of [busybox, libc]) run(["dpkg-deb", "-x", deb, root], { what: `unpack ${basename(deb)}` });
  rmSync(join(root, "usr/share"), { recursive: true, force: true });
  for (const gconv of ["usr/lib/x86_64-linux-gnu/gconv", "usr/lib/aarch64-linux-gnu/gconv"])
    rmSync(join(root, gconv), { recursive: true, force: true });
  // Every applet as a link to busybox (the list is the same for every
  // architecture of one Debian version: the host's busybox gives it).
  const applets = run(["busybox", "--list-full"], { what: "busybox --list-full" })
    .split("\n")
    .filter((a) => a && a !== "bin/busybox");
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
  run(["sh", "-c", 'cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$2.part" && mv "$2.part" "$2"', "sh", root, out], {
    what: "ramdisk cpio",
  });
  rmSync(root, { recursive: true, force: true });
  return out;
}

export function prepareBoot(target: Target, cache: string): Boot {
  const dir = join(cache, "boot");
  mkdirSync(dir, { recursive: true });
  const k = debianKernel(cache, target.suite, target.debArch);
  return { kernel: k.vmlinuz, kernelVersion: basename(k.deb, ".deb"), ramdisk: ramdisk(cache, target, dir) };
}
