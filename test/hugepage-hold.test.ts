// `uffd-suite hugepage-hold` (used by `run` with cases side by side): one
// gigantic hugetlb page held for the run, on top of the pool, while its stdin
// is open, and given back when it closes; bad input is a usage error.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MAIN = join(import.meta.dir, "../src/main.ts");
const GIGA = "/sys/kernel/mm/hugepages/hugepages-1048576kB";
const count = (f: string) => Number(readFileSync(join(GIGA, f), "utf8"));
const root = process.getuid?.() === 0;

test.skipIf(!root || !existsSync(GIGA))(
  "holds one 1 GiB page while stdin is open, and gives it back at its end (needs root and 1 GiB hugetlb pages)",
  async () => {
    const before = count("nr_hugepages");
    const p = Bun.spawn([process.execPath, MAIN, "hugepage-hold", "--kb", "1048576"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const reader = p.stdout.getReader();
    const { value } = await reader.read();
    const line = new TextDecoder().decode(value).trim();
    expect(line).toBe("held");
    expect(count("nr_hugepages")).toBe(before + 1);
    expect(count("free_hugepages")).toBeGreaterThanOrEqual(1);
    p.stdin.end();
    expect(await p.exited).toBe(0);
    expect(count("nr_hugepages")).toBe(before);
  },
  60_000,
);

test("a size that is no hugetlb page size of this kernel: one line, exit 2, nothing held", () => {
  const p = Bun.spawnSync([process.execPath, MAIN, "hugepage-hold", "--kb", "3"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  expect(p.exitCode).toBe(2);
  expect(p.stdout.toString()).toBe("");
  const err = p.stderr.toString().trim().split("\n");
  expect(err).toHaveLength(1);
  expect(err[0]).toContain("--kb: '3' is not a hugetlb page size");
});

test.skipIf(!root || !existsSync(GIGA))(
  "holdHugepage: held, released, and nothing of it keeps the process alive afterwards (needs root and 1 GiB hugetlb pages)",
  async () => {
    const mod = join(import.meta.dir, "../src/suite/hugepage-hold.ts");
    const script = `import { holdHugepage } from ${JSON.stringify(mod)};
const h = holdHugepage(1024 * 1024 * 1024);
console.log(await h.held);
await h.release();
console.log(performance.now());`;
    const started = performance.now();
    const p = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    const lifetime = performance.now() - started;
    const [held, releasedAt] = out.trim().split("\n");
    expect(held).toBe("true");
    // Its end came right after the release: a timer left behind (the 30 s
    // release limit) held it alive 30 s longer.
    expect(lifetime - Number(releasedAt)).toBeLessThan(5000);
  },
  60_000,
);
