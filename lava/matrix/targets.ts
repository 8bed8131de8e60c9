// The machines of the matrix: a Debian kernel series on an architecture,
// booted by QEMU (TCG: no KVM needed) the way LAVA's qemu device type does.
export type Arch = "x86_64" | "arm64";

export interface Target {
  /** "6.1-x86_64". */
  readonly id: string;
  /** Debian kernel series: "6.1" (bookworm) or "6.12" (bookworm-backports). */
  readonly kernel: string;
  /** The Debian suite whose generic kernel it boots (scripts/qemu/apt.ts names). */
  readonly suite: string;
  readonly arch: Arch;
  /** Debian's name for the architecture. */
  readonly debArch: "amd64" | "arm64";
  /** bun build --target for the binary. */
  readonly buildTarget: string;
  readonly qemu: string;
  /** QEMU options past LAVA's -kernel/-initrd. */
  readonly qemuOptions: readonly string[];
  readonly console: string;
}

// LAVA's qemu template passes no -cpu on x86_64 without KVM, so the guest
// CPU is QEMU's qemu64, on which no Bun binary starts (measured with QEMU
// 7.2 and Bun 1.4.4's baseline build: qemu64 SIGILL, Nehalem "CPU lacks AVX
// support", SandyBridge abort; Haswell and max run). So the device names
// -cpu max, as a lab's device dictionary or job context (extra_options) must.
const SUITE: Record<string, string> = { "6.1": "bookworm", "6.12": "bookworm-backports" };

const x86_64 = (kernel: string): Target => ({
  id: `${kernel}-x86_64`,
  kernel,
  suite: SUITE[kernel]!,
  arch: "x86_64",
  debArch: "amd64",
  buildTarget: "bun-linux-x64-baseline",
  qemu: "qemu-system-x86_64",
  qemuOptions: ["-cpu max"],
  console: "ttyS0,115200",
});

const arm64 = (kernel: string): Target => ({
  id: `${kernel}-arm64`,
  kernel,
  suite: SUITE[kernel]!,
  arch: "arm64",
  debArch: "arm64",
  buildTarget: "bun-linux-arm64",
  // pauth-impdef: QEMU's own pointer-auth hash, far quicker under TCG than the architected one.
  qemu: "qemu-system-aarch64",
  qemuOptions: ["-machine virt", "-cpu max,pauth-impdef=on"],
  console: "ttyAMA0",
});

export const TARGETS: readonly Target[] = [x86_64("6.1"), x86_64("6.12"), arm64("6.1")];

/** The targets a --kernel / --arch pair picks (either may be left out). */
export function pickTargets(kernel: string | undefined, arch: string | undefined): Target[] {
  return TARGETS.filter((t) => (!kernel || t.kernel === kernel) && (!arch || t.arch === arch || t.debArch === arch));
}
