// The shape issue 15 gave the results: one stream of data (report/result.ts)
// from every runner to every format, never KTAP text read back inside the
// program; run above the programs it composes; report/ formatting only.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./support/binary.ts";

const SRC = join(REPO, "src");
const files = [...new Bun.Glob("**/*.ts").scanSync(SRC)].sort();
const text = (f: string) => readFileSync(join(SRC, f), "utf8");

/** The folders (under src) a file imports from, relative imports only. */
function importedFolders(f: string): string[] {
  const out: string[] = [];
  for (const m of text(f).matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/gms)) {
    const target = join(f, "..", m[1]!);
    out.push(target.includes("/") ? target.split("/")[0]! : ".");
  }
  return out;
}

describe("one result stream", () => {
  test("nothing in src reads KTAP back", () => {
    expect(files.length).toBeGreaterThan(100);
    const readers = files.filter((f) => /parseKtap|KtapSection|KtapTally|KtapCollector|\(not ok\|ok\)|\^\(not \)\?ok/.test(text(f)));
    expect(readers).toEqual([]);
  });

  test("pass, fail and skip are spelled as a type once", () => {
    const spelled = files.filter((f) => /"pass" \| "fail" \| "skip"/.test(text(f)));
    expect(spelled).toEqual(["report/result.ts"]);
  });

  test("report/ imports nothing outside itself; stress imports no other program; run lives above them", () => {
    const outside = (dir: string, allowed: readonly string[]) =>
      files
        .filter((f) => f.startsWith(`${dir}/`))
        .flatMap((f) =>
          importedFolders(f)
            .filter((d) => !allowed.includes(d))
            .map((d) => `${f} -> ${d}`),
        );
    expect(outside("report", ["report"])).toEqual([]);
    expect(outside("stress", ["stress", "harness", "machine", "sys", "uffd", "report", "."])).toEqual([]);
    expect(files.filter((f) => f.startsWith("stress/") && /vmtests|side-run/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith("report/") && /features/.test(f))).toEqual([]);
    expect(files).toContain("suite/vmtests.ts");
    expect(files).toContain("features/probe.ts");
  });
});
