// Result lines of a KTAP/TAP stream, for tests that check verdicts: status,
// name, skip reason and the "# " diagnostic lines printed before each result.
export interface KtapResult {
  readonly n: number;
  readonly name: string;
  readonly status: "pass" | "fail" | "skip";
  readonly reason: string;
  readonly diagnostics: string[];
}

export function parseKtapResults(text: string): KtapResult[] {
  const out: KtapResult[] = [];
  let diags: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^(not )?ok (\d+) (.*?)(?: # (SKIP|TIMEOUT)\s*(.*))?$/.exec(line);
    if (m) {
      const status = m[1] ? "fail" : m[4] === "SKIP" ? "skip" : "pass";
      out.push({ n: Number(m[2]), name: m[3]!.trim(), status, reason: m[5] ?? "", diagnostics: diags });
      diags = [];
    } else if (line.startsWith("# ") && !line.startsWith("# Totals")) {
      diags.push(line.slice(2));
    }
  }
  return out;
}
