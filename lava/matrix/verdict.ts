// What one target's job came to: the suite's cases counted, failures split
// into known kernel bugs (the suite names the upstream fix in the case's
// notes) and the rest, and anything LAVA itself failed.
import type { LavaCase, LavaLog } from "./results.ts";

export const KNOWN_BUG = "known kernel bug:";

export interface Failure {
  readonly name: string;
  /** The first note that is not the known-bug line (or LAVA's error). */
  readonly diagnostic: string;
  /** The known-bug line, for a known failure. */
  readonly known?: string;
}

export interface Verdict {
  readonly pass: number;
  readonly skip: number;
  readonly known: readonly Failure[];
  readonly unknown: readonly Failure[];
}

const isSuite = (c: LavaCase) => c.definition !== "lava";

/** The note that says what went wrong: the first naming an expectation, a crash, a time limit or an exit code, else the first. */
function firstDiagnostic(notes: readonly string[]): string {
  const own = notes.filter((n) => !n.startsWith(KNOWN_BUG));
  return own.find((n) => /expected|seen|crashed|TIMEOUT|exit code|Error/.test(n)) ?? own[0] ?? "";
}

function failure(c: LavaCase): Failure {
  const known = c.notes.find((n) => n.startsWith(KNOWN_BUG));
  const diagnostic = firstDiagnostic(c.notes);
  return { name: c.name, diagnostic, ...(known ? { known } : {}) };
}

/**
 * The program's own case (`uffd-suite_<command>`) fails with exit code 1
 * whenever a case fails: it is known when every other failure is, and a
 * crash or any other exit code is never known.
 */
export function judge(log: LavaLog, command: string): Verdict {
  const programCase = `uffd-suite_${command.split(/\s+/)[0]}`;
  const suite = log.cases.filter(isSuite);
  const failed = suite.filter((c) => c.result === "fail" && c.name !== programCase).map(failure);
  const known = failed.filter((f) => f.known);
  const unknown = failed.filter((f) => !f.known);
  const program = suite.find((c) => c.name === programCase);
  if (program?.result === "fail") {
    const f = failure(program);
    const mirrors = unknown.length === 0 && known.length > 0 && program.notes.at(-1) === "exit code 1";
    (mirrors ? known : unknown).push(mirrors ? { ...f, known: "exit code 1 from the known failures above" } : f);
  }
  for (const c of log.cases.filter((c) => !isSuite(c) && c.result === "fail")) {
    unknown.push({ name: `lava: ${c.name}`, diagnostic: c.name === "job" ? (log.job?.error ?? "") : "" });
  }
  // A result the target printed that LAVA never recorded: its signal line
  // was lost (a kernel message on the console cut into it, as an MCE line did
  // in a poison case). A missing verdict is a failure, never a silent pass.
  const recorded = new Set(suite.map((c) => c.name));
  for (const id of new Set(log.printed)) {
    if (!recorded.has(id))
      unknown.push({
        name: id,
        diagnostic: "printed on the target's console, but LAVA recorded no test case for it (its signal line was lost)",
      });
  }
  if (suite.length === 0) {
    unknown.push({ name: "no test case came back", diagnostic: log.job?.error ?? log.console.at(-1) ?? "" });
  } else if (!program) {
    unknown.push({ name: `${programCase} missing`, diagnostic: "the test definition did not finish" });
  }
  return {
    pass: suite.filter((c) => c.result === "pass").length,
    skip: suite.filter((c) => c.result === "skip").length,
    known,
    unknown,
  };
}
