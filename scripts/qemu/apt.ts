// A private apt set-up under a cache folder: its own sources list, lists and
// archives, so packages of other Debian suites and architectures can be
// downloaded (`apt-get download`) without touching the system's sources.
// Used by the QEMU boots here and by anything else that needs a Debian
// kernel or userland (the LAVA matrix reads this module).
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./proc.ts";

/** Debian suites by the name used on our command lines, and the archive lines each needs. */
export const SUITES: Record<string, { archive: "debian" | "debian-security"; suite: string }[]> = {
  bullseye: [
    { archive: "debian-security", suite: "bullseye-security" },
    { archive: "debian", suite: "bullseye" },
  ],
  bookworm: [
    { archive: "debian", suite: "bookworm" },
    { archive: "debian-security", suite: "bookworm-security" },
  ],
  "bookworm-backports": [{ archive: "debian", suite: "bookworm-backports" }],
  trixie: [
    { archive: "debian", suite: "trixie" },
    { archive: "debian-security", suite: "trixie-security" },
  ],
};

const MIRROR = "http://deb.debian.org";
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
/** Lists younger than this are used as they are. */
const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;

export interface AptRoot {
  dir: string;
  suite: string;
  /** Debian architecture name: amd64, arm64. */
  arch: string;
}

/** The -o options that point apt at the private root only. */
function aptOptions(root: AptRoot): string[] {
  const d = root.dir;
  return [
    `-o`,
    `Dir::Etc::sourcelist=${join(d, "sources.list")}`,
    `-o`,
    `Dir::Etc::sourceparts=${join(d, "sources.list.d")}`,
    `-o`,
    `Dir::Etc::preferences=${join(d, "preferences")}`,
    `-o`,
    `Dir::Etc::preferencesparts=${join(d, "preferences.d")}`,
    `-o`,
    `Dir::State=${join(d, "state")}`,
    `-o`,
    `Dir::State::status=${join(d, "state", "status")}`,
    `-o`,
    `Dir::Cache=${join(d, "cache")}`,
    `-o`,
    `APT::Architecture=${root.arch}`,
    `-o`,
    `APT::Architectures=${root.arch}`,
    `-o`,
    `Acquire::Languages=none`,
    `-o`,
    `Debug::NoLocking=1`,
  ];
}

/** Make (once) and refresh (daily) the private apt root for one suite and architecture under `cache`. */
export function aptRoot(cache: string, suite: string, arch: string): AptRoot {
  const lines = SUITES[suite];
  if (!lines) throw new Error(`unknown suite '${suite}' (known: ${Object.keys(SUITES).join(", ")})`);
  const root = { dir: join(cache, "apt", `${suite}-${arch}`), suite, arch };
  for (const sub of ["sources.list.d", "preferences.d", "state/lists/partial", "cache/archives/partial"]) {
    mkdirSync(join(root.dir, sub), { recursive: true });
  }
  writeFileSync(
    join(root.dir, "sources.list"),
    lines.map((l) => `deb [arch=${arch} signed-by=${KEYRING}] ${MIRROR}/${l.archive} ${l.suite} main\n`).join(""),
  );
  const status = join(root.dir, "state", "status");
  if (!existsSync(status)) writeFileSync(status, "");
  const lists = join(root.dir, "state", "lists");
  const fresh = readdirSync(lists).some((f) => f.endsWith("_Packages") && Date.now() - statSync(join(lists, f)).mtimeMs < LISTS_MAX_AGE_MS);
  if (!fresh) run(["apt-get", ...aptOptions(root), "-q", "update"], { what: `apt-get update (${suite} ${arch})` });
  return root;
}

/** The packages `pkg` depends on (first alternative each), e.g. the versioned kernel behind linux-image-arm64. */
export function depends(root: AptRoot, pkg: string): string[] {
  const out = run(["apt-cache", ...aptOptions(root), "depends", pkg], { what: `apt-cache depends ${pkg}` });
  return [...out.matchAll(/^\s+\|?Depends: (\S+)$/gm)].map((m) => m[1]!.replace(/:.*$/, ""));
}

/** The .deb file name `apt-get download` gives `pkg`'s candidate (name_version_arch, the epoch's ':' as %3a). */
function debName(root: AptRoot, pkg: string): string {
  const out = run(["apt-cache", ...aptOptions(root), "show", "--no-all-versions", pkg], { what: `apt-cache show ${pkg}` });
  const field = (name: string) => new RegExp(`^${name}: (\\S+)$`, "m").exec(out)?.[1];
  const [name, version, arch] = [field("Package"), field("Version"), field("Architecture")];
  if (!name || !version || !arch) throw new Error(`apt-cache show ${pkg}: no Package/Version/Architecture`);
  return `${name}_${version.replaceAll(":", "%3a")}_${arch}.deb`;
}

/** Download `pkg`'s candidate .deb into `<cache>/debs` unless it is there already; returns its path. */
export function download(root: AptRoot, pkg: string, cache: string): string {
  const dest = join(cache, "debs");
  mkdirSync(dest, { recursive: true });
  const file = join(dest, debName(root, pkg));
  if (!existsSync(file)) {
    run(["apt-get", ...aptOptions(root), "-q", "download", pkg], { what: `apt-get download ${pkg}`, cwd: dest });
  }
  if (!existsSync(file)) throw new Error(`apt-get download ${pkg} did not leave ${file}`);
  return file;
}
