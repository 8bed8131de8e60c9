// The binary as a test machine gets it: a root holding the compiled binary and
// exactly the runtime libraries `ldd` names for it (libc.so.6, the loader, ...),
// no libc.so or libc.a, no headers, no compiler, no /tmp. Run under chroot with
// /proc, /sys, /dev and /run of this machine mounted in (a private mount
// namespace: nothing stays mounted after), every case that needs run-time C
// (fork, SIGBUS, events, poison, wp-fork, minor-collapse, user-mode-only) must
// pass or skip with a true reason, never fail for want of development files.
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { compiledBinary } from "./support/binary.ts";
import { parseKtapResults } from "./support/ktap.ts";

const isRoot = process.getuid?.() === 0;
const tools = ["ldd", "unshare", "chroot", "mount"].filter((t) => Bun.which(t) === null);

const tmp = mkdtempSync(join(tmpdir(), "uffd-runtime-only-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The absolute paths of the libraries (and loader) `ldd` lists for `bin`. */
function runtimeLibraries(bin: string): string[] {
  const p = Bun.spawnSync(["ldd", bin], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`ldd ${bin}: ${p.stderr.toString()}`);
  const paths = p.stdout
    .toString()
    .split("\n")
    .map((l) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
  if (!paths.some((x) => /\/libc\.so\.6$/.test(x))) throw new Error(`ldd names no libc.so.6:\n${p.stdout}`);
  return paths;
}

/** Every regular file under `root`, relative. */
function filesUnder(root: string, rel = ""): string[] {
  return readdirSync(join(root, rel)).flatMap((n) => {
    const r = join(rel, n);
    return statSync(join(root, r)).isDirectory() ? filesUnder(root, r) : [r];
  });
}

function makeRoot(bin: string): { root: string; libs: string[] } {
  const root = join(tmp, "root");
  const libs = runtimeLibraries(bin);
  for (const lib of libs) {
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(root, lib)); // the file the link points at, under the name the loader asks for
  }
  copyFileSync(bin, join(root, "uffd-suite"));
  Bun.spawnSync(["chmod", "755", join(root, "uffd-suite")]);
  for (const d of ["proc", "sys", "dev", "run"]) mkdirSync(join(root, d), { recursive: true });
  return { root, libs };
}

/** Cases whose code runs compiled C (src/sys/native): every helper is used by one of them. */
const NATIVE_CASES = [
  "sigbus",
  "sigbus-wp",
  "events",
  "events-wp",
  "events-unmap",
  "poison",
  "wp-fork",
  "minor-collapse",
  "user-mode-only",
];

test.skipIf(!isRoot || tools.length > 0)(
  `unit in a chroot holding only the binary and its runtime libraries${!isRoot ? " (needs root for chroot and mounts)" : ""}${tools.length ? ` (missing tools: ${tools.join(", ")})` : ""}`,
  async () => {
    const bin = compiledBinary();
    const { root, libs } = makeRoot(bin);
    // Nothing a compile or link could use: no libc.so, no libc.a, no headers, no /tmp.
    const present = filesUnder(root);
    expect(present.filter((f) => /libc\.(so|a)$|\.h$|crt\d?\.o$/.test(f))).toEqual([]);
    expect(present.sort()).toEqual(["uffd-suite", ...libs.map((l) => l.slice(1))].sort());
    expect(existsSync(join(root, "tmp"))).toBe(false);

    const script = [
      "set -e",
      `mount -t proc proc ${root}/proc`,
      `mount --rbind /sys ${root}/sys`,
      `mount --rbind /dev ${root}/dev`,
      `mount --rbind /run ${root}/run`,
      `exec chroot ${root} /uffd-suite unit --timeout 60`,
    ].join("\n");
    const p = Bun.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR: "1", TMPDIR: "/tmp" },
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), 200_000);
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);

    const results = parseKtapResults(out);
    const failed = results.filter((r) => r.status === "fail");
    if (failed.length > 0 || code !== 0) console.error(`${out}\n${err.split("\n").slice(-30).join("\n")}`);
    expect(failed.map((r) => `${r.name}: ${r.diagnostics.join(" | ")}`)).toEqual([]);
    expect(code).toBe(0);
    expect(err).not.toContain("NativeCompileError");
    expect(err).not.toContain("library 'c' not found");

    // Each native case ran and passed on at least one memory type (on this machine each one can), and
    // nothing skipped for want of a compiler, a header or a temp folder.
    for (const name of NATIVE_CASES) {
      const runs = results.filter((r) => r.name === name || r.name.startsWith(`${name} on `) || r.name.startsWith(`${name} (`));
      expect(runs.length, `${name} missing from the run`).toBeGreaterThan(0);
      expect(runs.filter((r) => r.status === "pass").length, `${name} never passed`).toBeGreaterThan(0);
    }
    for (const r of results.filter((x) => x.status === "skip")) {
      expect(r.reason).not.toMatch(/compile|tcc|libc|tmp|temp/i);
    }
    console.log(
      `# runtime-only chroot: ${results.length} results, ${results.filter((r) => r.status === "pass").length} pass, ` +
        `${results.filter((r) => r.status === "skip").length} skip, 0 fail; root held ${present.length} files`,
    );
  },
  240_000,
);
