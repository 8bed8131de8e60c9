// One LAVA job per target, for `lava-run` on this machine: a qemu device
// (what LAVA's qemu device type renders to, less what a ramdisk boot does not
// use) and a job that deploys the kernel and the ramdisk to tmpfs, adds the
// binary as a tar overlay, boots to the busybox shell and runs the test
// definition in lava/ with the command as its parameter. Both are written as
// JSON, which LAVA's YAML loader reads.
import type { Boot } from "./ramdisk.ts";
import { PROMPT } from "./ramdisk.ts";
import type { Target } from "./targets.ts";

const MEMORY_MB = 2048;
const CPUS = 2;

export function deviceConfig(target: Target): object {
  return {
    constants: {
      posix: { lava_test_sh_cmd: "/bin/sh", lava_test_results_dir: "/lava-%s", lava_test_shell_file: "~/.bashrc" },
      "shutdown-message": "The system is going down for reboot NOW",
      "kernel-start-message": "Linux version [0-9]",
      "default-shell-prompt": "lava-test: # ",
      spawn_maxread: "4092",
      failure_retry: 1,
      boot_retry: null,
    },
    parameters: {},
    available_architectures: [target.debArch],
    actions: {
      deploy: {
        connections: { serial: null },
        methods: { image: { parameters: { guest: { size: 512, interface: "ide", driveid: "lavatest" } } } },
      },
      boot: {
        connections: { serial: null },
        methods: {
          qemu: {
            parameters: {
              command: target.qemu,
              options: ["-nographic", "-net none", `-m ${MEMORY_MB}`, `-smp ${CPUS}`, "-monitor none", ...target.qemuOptions],
            },
          },
        },
      },
    },
    timeouts: {
      actions: { "lava-test-shell": { minutes: 3 }, "auto-login-action": { minutes: 5 } },
      connections: { "lava-test-shell": { seconds: 10 } },
    },
  };
}

export interface JobInput {
  readonly target: Target;
  readonly boot: Boot;
  /** A tar holding usr/local/bin/uffd-suite (keeps the exec bit a file overlay loses). */
  readonly binaryTar: string;
  /** A git repository holding lava/uffd-suite.yaml and lava/uffd-suite.sh. */
  readonly definitions: string;
  /** The uffd-suite command line, e.g. "unit". */
  readonly command: string;
  readonly testMinutes: number;
}

export function jobDefinition(j: JobInput): object {
  const console = j.target.console;
  return {
    device_type: "qemu",
    job_name: `uffd-suite ${j.target.id}: ${j.command}`,
    timeouts: { job: { minutes: j.testMinutes + 20 }, action: { minutes: j.testMinutes + 10 }, connection: { minutes: 5 } },
    priority: "medium",
    visibility: "public",
    context: { arch: j.target.debArch, no_kvm: true },
    actions: [
      {
        deploy: {
          timeout: { minutes: 10 },
          to: "tmpfs",
          images: {
            kernel: { image_arg: `-kernel {kernel} -append "console=${console} panic=-1"`, url: `file://${j.boot.kernel}` },
            ramdisk: {
              image_arg: "-initrd {ramdisk}",
              url: `file://${j.boot.ramdisk}`,
              compression: "gz",
              format: "cpio.newc",
              overlays: { lava: true, uffd: { url: `file://${j.binaryTar}`, format: "tar", path: "/" } },
            },
          },
        },
      },
      { boot: { timeout: { minutes: 10 }, method: "qemu", media: "tmpfs", prompts: [PROMPT] } },
      {
        test: {
          timeout: { minutes: j.testMinutes },
          definitions: [
            {
              repository: j.definitions,
              from: "git",
              path: "lava/uffd-suite.yaml",
              name: "uffd-suite",
              parameters: { BINARY: "/usr/local/bin/uffd-suite", COMMAND: j.command },
            },
          ],
        },
      },
    ],
  };
}
