// Debian packages for the matrix. Host tools are installed with the system's
// apt; kernels and the target's busybox and libc come with `apt-get download`
// through a private configuration (sources, lists and cache under the cache
// folder), so the system's apt sources are never changed.
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MatrixError, run } from "./run.ts";

const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const SOURCES: readonly (readonly [string, string])[] = [
  ["http://deb.debian.org/debian", "bookworm"],
  ["http://deb.debian.org/debian", "bookworm-updates"],
  ["http://deb.debian.org/debian-security", "bookworm-security"],
  ["http://deb.debian.org/debian", "bookworm-backports"],
];
const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;

/** Install what is missing of `packages` on this machine (root). */
export function ensureHostPackages(packages: readonly string[]): void {
  const missing = packages.filter((p) => {
    const q = Bun.spawnSync(["dpkg-query", "-W", "-f", "${Status}", p], { stdout: "pipe", stderr: "pipe" });
    return !q.stdout.toString().includes("install ok installed");
  });
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new MatrixError(`needs root to install ${missing.join(", ")} (or install them first)`);
  process.stderr.write(`matrix: apt-get install ${missing.join(" ")}\n`);
  run(["apt-get", "install", "-y", "--no-install-recommends", ...missing], { env: { DEBIAN_FRONTEND: "noninteractive" } });
}

/** apt-get/apt-cache with a sources list, lists and cache of its own. */
export class PrivateApt {
  readonly debs: string;
  private readonly options: string[];

  constructor(readonly dir: string) {
    const lists = join(dir, "lists");
    const cache = join(dir, "cache");
    this.debs = join(dir, "debs");
    for (const d of [join(lists, "partial"), join(cache, "archives/partial"), join(dir, "preferences.d"), this.debs]) mkdirSync(d, { recursive: true });
    const sources = join(dir, "sources.list");
    writeFileSync(sources, SOURCES.map(([url, suite]) => `deb [arch=amd64,arm64 signed-by=${KEYRING}] ${url} ${suite} main\n`).join(""));
    this.options = [
      "-o", `Dir::Etc::SourceList=${sources}`,
      "-o", "Dir::Etc::SourceParts=/dev/null",
      "-o", "Dir::Etc::Preferences=/dev/null",
      "-o", `Dir::Etc::PreferencesParts=${join(dir, "preferences.d")}`,
      "-o", `Dir::State::Lists=${lists}`,
      "-o", `Dir::Cache=${cache}`,
      "-o", "APT::Architectures::=amd64",
      "-o", "APT::Architectures::=arm64",
    ];
  }

  /** Refresh the package lists when they are missing or a day old. */
  update(): void {
    const lists = join(this.dir, "lists");
    const stamp = readdirSync(lists).filter((f) => f.endsWith("_Packages")).map((f) => statSync(join(lists, f)).mtimeMs);
    if (stamp.length > 0 && Date.now() - Math.min(...stamp) < LISTS_MAX_AGE_MS) return;
    run(["apt-get", ...this.options, "update"], { nice: true });
  }

  /** Every stanza of `apt-cache show` for a package ("name" or "name:arch"). */
  show(pkg: string): Record<string, string>[] {
    const text = run(["apt-cache", ...this.options, "show", pkg]);
    return text.split(/\n\n+/).filter((s) => s.trim()).map((stanza) => {
      const fields: Record<string, string> = {};
      for (const line of stanza.split("\n")) {
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (m) fields[m[1]!] = m[2]!;
      }
      return fields;
    });
  }

  /** The .deb of `pkg` (name:arch=version or name:arch), downloaded once into the cache. */
  download(name: string, arch: string, version?: string): string {
    const have = readdirSync(this.debs).find((f) => f.startsWith(`${name}_`) && f.endsWith(`_${arch}.deb`) && (!version || f.includes(`_${version.replace(":", "%3a")}_`)));
    if (have) return join(this.debs, have);
    run(["apt-get", ...this.options, "download", `${name}:${arch}${version ? `=${version}` : ""}`], { cwd: this.debs, nice: true });
    const got = readdirSync(this.debs).find((f) => f.startsWith(`${name}_`) && f.endsWith(`_${arch}.deb`));
    if (!got || !existsSync(join(this.debs, got))) throw new MatrixError(`apt-get download ${name}:${arch}: no .deb came`);
    return join(this.debs, got);
  }
}

/** The newest Debian kernel image package of a series ("6.1", "6.12") for an architecture. */
export function kernelPackage(apt: PrivateApt, series: string, arch: string): { name: string; version: string } {
  const stanzas = apt.show(`linux-image-${arch}:${arch}`).filter((s) => s.Version?.startsWith(`${series}.`));
  if (stanzas.length === 0) throw new MatrixError(`no Debian linux-image-${arch} of the ${series} series in bookworm, -security or -backports`);
  const newest = stanzas.sort((a, b) => compareVersions(b.Version!, a.Version!))[0]!;
  const dep = /^(linux-image-[^\s,]+)\s*\(=\s*([^)]+)\)/.exec(newest.Depends ?? "");
  if (!dep) throw new MatrixError(`linux-image-${arch} ${newest.Version}: no kernel package in Depends: ${newest.Depends}`);
  return { name: dep[1]!, version: dep[2]! };
}

function compareVersions(a: string, b: string): number {
  const r = Bun.spawnSync(["dpkg", "--compare-versions", a, "gt", b]);
  return r.exitCode === 0 ? 1 : a === b ? 0 : -1;
}
