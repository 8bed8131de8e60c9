// The features report as text for a person.
import { FEATURE_BITS } from "../uffd/constants.ts";
import { type FeaturesReport, type OpenReport, REGISTER_MODES, type Registration } from "./probe.ts";

function openLine(r: OpenReport): string {
  if (!r.ok) return `failed: ${r.error}`;
  const how = r.via === "syscall" ? "userfaultfd() system call" : "/dev/userfaultfd (USERFAULTFD_IOC_NEW)";
  return `${how}, ${r.userModeOnly ? "user-mode faults only (UFFD_USER_MODE_ONLY)" : "kernel faults too"}`;
}

function registrationText(r: Registration): string {
  return "error" in r ? `fails: ${r.error}` : r.ioctls.join(" ");
}

function pageText(bytes: number): string {
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB pages` : `${bytes / 1024} KiB pages`;
}

export function featuresText(r: FeaturesReport): string {
  const out: string[] = [];
  out.push(`kernel       ${r.kernel.release} (${r.kernel.arch})`);
  out.push(`userfaultfd  ${openLine(r.open)}`);
  out.push(`  syscall           ${r.paths.syscall.ok ? "ok" : r.paths.syscall.error}`);
  out.push(`  /dev/userfaultfd  ${r.paths.dev.ok ? "ok" : r.paths.dev.error}`);
  if (!r.open.ok) return `${out.join("\n")}\n`;
  out.push(`api ioctls   ${r.apiIoctls.join(" ")}`);
  out.push("");
  const yes = FEATURE_BITS.filter((f) => r.features[f]).length;
  out.push(`features (${yes} of ${FEATURE_BITS.length} supported)`);
  FEATURE_BITS.forEach((f, bit) => {
    out.push(`  ${r.features[f] ? "yes" : "no "}  ${String(bit).padStart(2)}  ${f}`);
  });
  out.push(`  unknown bits: ${r.unknownFeatureBits === "0x0" ? "none" : r.unknownFeatureBits}`);
  out.push("");
  out.push("registration (ioctls offered by UFFDIO_REGISTER, per memory type and mode)");
  for (const [name, m] of Object.entries(r.memory)) {
    if (!m.available) {
      out.push(`  ${name}: not available: ${m.reason}`);
      continue;
    }
    out.push(`  ${name} (${pageText(m.pageSize)})`);
    for (const mode of REGISTER_MODES) out.push(`    ${mode.padEnd(8)} ${registrationText(m.register[mode])}`);
  }
  return `${out.join("\n")}\n`;
}
