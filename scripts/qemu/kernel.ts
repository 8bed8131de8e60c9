// A Debian kernel for a QEMU boot: resolve linux-image-<flavour> of a suite to
// its versioned package, download it once, and unpack only /boot/vmlinuz-*.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { aptRoot, depends, download } from "./apt.ts";
import { run } from "./proc.ts";

export interface Kernel {
  /** e.g. linux-image-6.1.0-41-arm64 */
  pkg: string;
  deb: string;
  /** The unpacked kernel image, ready for qemu -kernel. */
  vmlinuz: string;
  arch: string;
}

/** Debian's kernel flavour for an architecture (the generic one). */
export function flavour(arch: string): string {
  return arch === "amd64" ? "amd64" : arch === "arm64" ? "arm64" : arch;
}

/** Download and unpack Debian's current generic kernel of `suite` for `arch` (amd64 or arm64) under `cache`. */
export function debianKernel(cache: string, suite: string, arch: string): Kernel {
  const root = aptRoot(cache, suite, arch);
  const meta = `linux-image-${flavour(arch)}`;
  const pkg = depends(root, meta).find((d) => /^linux-image-\d/.test(d));
  if (!pkg) throw new Error(`${meta} in ${suite} depends on no versioned kernel package`);
  const deb = download(root, pkg, cache);
  const dir = join(cache, "kernels", basename(deb, ".deb"));
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.startsWith("vmlinuz-"))) {
    mkdirSync(dir, { recursive: true });
    run(["sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards --strip-components=2 './boot/vmlinuz-*'`, "sh", deb, dir], {
      what: `unpack vmlinuz from ${basename(deb)}`,
    });
  }
  const image = readdirSync(dir).find((f) => f.startsWith("vmlinuz-"));
  if (!image) throw new Error(`${basename(deb)} holds no /boot/vmlinuz-*`);
  return { pkg, deb, vmlinuz: join(dir, image), arch };
}
