// What this kernel's userfaultfd offers: how an fd opens, the API features,
// and which ioctls registration gives per memory type and mode. Collecting
// only; features/text.ts and the CLI print it.
import { machine, release } from "node:os";
import { Area, MEMORY, MEMORY_NAMES, type MemoryName, pageSizeOf } from "../harness/memory.ts";
import { SysError } from "../sys/errno.ts";
import { FEATURE_BITS, type FeatureName } from "../uffd/constants.ts";
import type { IoctlSet } from "../uffd/bits.ts";
import { type OpenVia, Uffd } from "../uffd/uffd.ts";

export const REGISTER_MODES = ["missing", "wp", "minor"] as const;
export type RegisterModeName = (typeof REGISTER_MODES)[number];

/** Registration outcome: the ioctls offered, or the errno name (or message) of the failure. */
export type Registration = { readonly ioctls: string[] } | { readonly error: string };

export type MemoryReport =
  | { readonly available: true; readonly pageSize: number; readonly register: Record<RegisterModeName, Registration> }
  | { readonly available: false; readonly reason: string };

export type OpenReport =
  | { readonly ok: true; readonly via: OpenVia; readonly userModeOnly: boolean }
  | { readonly ok: false; readonly error: string };

export interface FeaturesReport {
  readonly kernel: { readonly release: string; readonly arch: string };
  /** The default way of opening (syscall first, /dev/userfaultfd as fallback). */
  readonly open: OpenReport;
  /** Each way of opening tried on its own. */
  readonly paths: Record<OpenVia, OpenReport>;
  /** ioctls answered by UFFDIO_API; empty when no fd could be opened. */
  readonly apiIoctls: string[];
  /** All 17 features we know, in bit order; empty when no fd could be opened. */
  readonly features: Partial<Record<FeatureName, boolean>>;
  /** Feature bits the kernel set that we have no name for, in hex ("0x0" when none). */
  readonly unknownFeatureBits: string;
  readonly memory: Record<MemoryName, MemoryReport>;
}

function why(e: unknown): string {
  if (e instanceof SysError) return e.code;
  return e instanceof Error ? e.message : String(e);
}

function names(set: IoctlSet): string[] {
  const out: string[] = set.known();
  const rest = set.unknown();
  if (rest !== 0n) out.push(`0x${rest.toString(16)}`);
  return out;
}

function openReport(via?: OpenVia): OpenReport {
  try {
    const u = Uffd.open({ via: via ?? "auto" });
    const r: OpenReport = { ok: true, via: u.via as OpenVia, userModeOnly: u.userModeOnly };
    u.close();
    return r;
  } catch (e) {
    return { ok: false, error: e instanceof SysError ? e.message : why(e) };
  }
}

/** Register `area` in one mode on a fresh, handshaken fd. */
function registration(area: Area, mode: RegisterModeName): Registration {
  let u: Uffd | undefined;
  try {
    u = Uffd.create();
    return { ioctls: names(u.register({ start: area.addr, len: area.pageSize }, { [mode]: true })) };
  } catch (e) {
    return { error: why(e) };
  } finally {
    u?.close();
  }
}

function memoryReport(name: MemoryName): MemoryReport {
  const mem = MEMORY[name];
  let area: Area;
  try {
    // One page; as a destination, hugetlb maps with MAP_NORESERVE and needs no free huge page.
    area = Area.allocate(mem, pageSizeOf(mem), { role: "dst" });
  } catch (e) {
    return { available: false, reason: e instanceof SysError ? e.message : why(e) };
  }
  try {
    const register = Object.fromEntries(REGISTER_MODES.map((m) => [m, registration(area, m)]));
    return { available: true, pageSize: area.pageSize, register: register as Record<RegisterModeName, Registration> };
  } finally {
    area.dispose();
  }
}

export function collectFeatures(): FeaturesReport {
  const open = openReport();
  const paths = { syscall: openReport("syscall"), dev: openReport("dev") };
  let apiIoctls: string[] = [];
  const features: Partial<Record<FeatureName, boolean>> = {};
  let unknownFeatureBits = "0x0";
  if (open.ok) {
    // A throwaway fd: its one UFFDIO_API call answers what the kernel offers.
    const u = Uffd.open();
    try {
      const api = u.api(0n);
      apiIoctls = names(api.ioctls);
      for (const f of FEATURE_BITS) features[f] = api.features.has(f);
      unknownFeatureBits = `0x${api.features.unknown().toString(16)}`;
    } finally {
      u.close();
    }
  }
  const memory = Object.fromEntries(
    MEMORY_NAMES.map((m) => [m, open.ok ? memoryReport(m) : { available: false, reason: "no userfaultfd" }]),
  ) as Record<MemoryName, MemoryReport>;
  return {
    kernel: { release: release(), arch: machine() },
    open,
    paths,
    apiIoctls,
    features,
    unknownFeatureBits,
    memory,
  };
}
