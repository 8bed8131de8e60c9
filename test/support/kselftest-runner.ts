// What tools/testing/selftests/kselftest/runner.sh prints for one program:
// a header, the program's output (stdout and stderr) each line behind `# `,
// then its own result from the exit code (0 ok, 4 SKIP, else not ok).
export interface ProgramRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

export function underKselftestRunner(num: number, name: string, r: ProgramRun): string {
  const body = `${r.out}${r.err}`
    .split("\n")
    .filter((l, i, a) => l !== "" || i < a.length - 1)
    .map((l) => `# ${l}`);
  const hdr = `selftests: mm: ${name}`;
  const result = r.code === 0 ? `ok ${num} ${hdr}` : r.code === 4 ? `ok ${num} ${hdr} # SKIP` : `not ok ${num} ${hdr} # exit=${r.code}`;
  return ["TAP version 13", "1..1", `# ${hdr}`, ...body, result].join("\n");
}
