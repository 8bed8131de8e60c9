// The KTAP writer: result lines, # Totals and the exit code come from the
// same results, so they cannot disagree. Fed crashes, timeouts, skips,
// failures and passes, all three are checked against a strict TAP parser's
// reading of the text, and against the result lines read back.
import { describe, expect, test } from "bun:test";
import { EXIT, exitCodeOf } from "../src/cli/exit.ts";
import { ktapDiagnostics, ktapResultLine, KtapSink, ktapText, ktapTotals } from "../src/report/ktap.ts";
import { outcomeOf as ktapOutcome, type Result } from "../src/report/result.ts";
import { ktapLineStatus, KtapTally, parseStrictTap } from "./support/ktap.ts";

/** The numbers of the # Totals line. */
function totalsOf(text: string): Record<string, number> {
  const m = /^# Totals: pass:(\d+) fail:(\d+) xfail:0 xpass:0 skip:(\d+) error:0$/m.exec(text);
  expect(m).not.toBeNull();
  return { pass: Number(m![1]), fail: Number(m![2]), skip: Number(m![3]) };
}

type Row = Omit<Result, "name" | "part" | "memory" | "diagnostics"> & { readonly diagnostics?: readonly string[] };
const MIXED: ReadonlyArray<readonly [string, Row, string]> = [
  ["zeropage on anon", { status: "pass" }, "ok 1 zeropage on anon"],
  [
    "events on shmem",
    { status: "fail", reason: "crashed: SIGSEGV", diagnostics: ["events on shmem: case process killed by SIGSEGV"] },
    "not ok 2 events on shmem # crashed: SIGSEGV",
  ],
  ["minor on hugetlb", { status: "fail", reason: "TIMEOUT 2 s" }, "not ok 3 minor on hugetlb # TIMEOUT 2 s"],
  ["move on anon", { status: "skip", reason: "feature missing: MOVE" }, "ok 4 move on anon # SKIP feature missing: MOVE"],
  ["poison on anon", { status: "fail", diagnostics: ["odd pages read zero: expected 0, seen 1"] }, "not ok 5 poison on anon"],
  ["sigbus on anon", { status: "pass", diagnostics: ["in-process: 8 SIGBUS"] }, "ok 6 sigbus on anon"],
];

function named(name: string, r: Row): Result {
  return { name, part: "unit", memory: null, ...r, diagnostics: r.diagnostics ?? [] };
}

function write(rows: ReadonlyArray<readonly [string, Row, string]>, planned = rows.length): { text: string; w: KtapSink } {
  let text = "";
  const w = new KtapSink((t) => (text += t));
  w.plan(planned);
  for (const [name, r] of rows) w.result(named(name, r));
  w.totals();
  return { text, w };
}

describe("KtapSink: lines, Totals and exit code agree", () => {
  test("crashes, timeouts, skips, failures and passes", () => {
    const { text, w } = write(MIXED);
    const lines = text.split("\n");
    expect(lines.slice(0, 2)).toEqual(["TAP version 13", "1..6"]);
    for (const [, , line] of MIXED) expect(lines).toContain(line);
    // Diagnostics come right before their result.
    expect(lines[lines.indexOf("not ok 2 events on shmem # crashed: SIGSEGV") - 1]).toBe(
      "# events on shmem: case process killed by SIGSEGV",
    );
    expect(lines[lines.indexOf("ok 6 sigbus on anon") - 1]).toBe("# in-process: 8 SIGBUS");
    expect(lines.at(-2)).toBe("# Totals: pass:2 fail:3 xfail:0 xpass:0 skip:1 error:0");
    expect(lines.at(-1)).toBe("");

    const { asserts, result } = parseStrictTap(text);
    expect(asserts.map((a) => [a.id, a.ok])).toEqual([
      [1, true],
      [2, false],
      [3, false],
      [4, true],
      [5, false],
      [6, true],
    ]);
    expect(asserts[3]!.skip).toBe("feature missing: MOVE");
    const parsed = { pass: result.pass - result.skip, fail: result.fail, skip: result.skip };
    expect(totalsOf(text)).toEqual(parsed);
    expect(w.counts).toEqual(parsed);
    expect(w.emitted).toBe(6);
    // The writer's counts are the result lines' as read back.
    const tally = new KtapTally();
    tally.feed(text);
    expect(tally.counts).toEqual(w.counts);
    expect(w.outcome()).toBe("fail");
    expect(exitCodeOf(w.outcome())).toBe(EXIT.FAIL);
    expect(result.ok).toBe(false);
  });

  test("passes and skips only: exit 0; skips only: exit 4 (nothing ran)", () => {
    const ok = write([MIXED[0]!, MIXED[3]!]);
    expect(totalsOf(ok.text)).toEqual({ pass: 1, fail: 0, skip: 1 });
    expect(exitCodeOf(ok.w.outcome())).toBe(EXIT.OK);
    expect(parseStrictTap(ok.text).result.ok).toBe(true);
    const skips = write([MIXED[3]!]);
    expect(totalsOf(skips.text)).toEqual({ pass: 0, fail: 0, skip: 1 });
    expect(exitCodeOf(skips.w.outcome())).toBe(EXIT.NOTHING_RAN);
  });

  test("fewer results than planned fail the run", () => {
    const short = write([MIXED[0]!], 2);
    expect(totalsOf(short.text)).toEqual({ pass: 1, fail: 0, skip: 0 });
    expect(short.w.planned).toBe(2);
    expect(exitCodeOf(short.w.outcome())).toBe(EXIT.FAIL);
  });

  test("result numbers count up and are returned", () => {
    let text = "";
    const w = new KtapSink((t) => (text += t));
    expect(w.result(named("a", { status: "pass" }))).toBe(1);
    expect(w.result(named("b", { status: "skip", reason: "x" }))).toBe(2);
    expect(text).toBe("ok 1 a\nok 2 b # SKIP x\n");
    expect(w.counts).toEqual({ pass: 1, fail: 0, skip: 1 });
    w.result(named("e", { status: "fail", diagnostics: [] }));
    expect(text).toBe("ok 1 a\nok 2 b # SKIP x\nnot ok 3 e\n");
    w.note("c");
    w.note("d\ne");
    expect(text).toBe("ok 1 a\nok 2 b # SKIP x\nnot ok 3 e\n# c\n# d\n# e\n");
    expect(w.counts).toEqual({ pass: 1, fail: 1, skip: 1 });
  });
});

describe("reading result lines back (the tests' reader)", () => {
  test("ktapLineStatus", () => {
    expect(ktapLineStatus("ok 1 a")).toBe("pass");
    expect(ktapLineStatus("ok 12 a on anon # SKIP feature missing: MOVE")).toBe("skip");
    expect(ktapLineStatus("ok 12 a # skip lower case")).toBe("skip");
    expect(ktapLineStatus("ok 12 a #SKIP no blank")).toBe("skip");
    expect(ktapLineStatus("ok 3 a # TODO later")).toBe("pass");
    expect(ktapLineStatus("not ok 3 a # SKIP not a skip when not ok")).toBe("fail");
    expect(ktapLineStatus("not ok 2 b # TIMEOUT 2 s")).toBe("fail");
    expect(ktapLineStatus("# ok 1 a diagnostic")).toBeUndefined();
    expect(ktapLineStatus("1..3")).toBeUndefined();
    expect(ktapLineStatus("okay 1 a")).toBeUndefined();
    expect(ktapLineStatus("ok a")).toBeUndefined();
    expect(ktapLineStatus("")).toBeUndefined();
  });

  test("KtapTally: a result as the very first text", () => {
    const t = new KtapTally();
    t.feed("ok 1 a\n");
    expect(t.counts).toEqual({ pass: 1, fail: 0, skip: 0 });
  });

  test("KtapTally counts whole lines, a partial one when it ends", () => {
    const t = new KtapTally();
    t.feed("TAP version 13\n1..3\nok 1 a\nnot o");
    expect(t.counts).toEqual({ pass: 1, fail: 0, skip: 0 });
    t.feed("k 2 b\nok 3 c # SKIP why\n# Totals: pass:9\n");
    expect(t.counts).toEqual({ pass: 1, fail: 1, skip: 1 });
    expect(t.emitted).toBe(3);
  });

  test("ktapOutcome", () => {
    expect(ktapOutcome({ pass: 1, fail: 0, skip: 0 }, 1)).toBe("ok");
    expect(ktapOutcome({ pass: 1, fail: 0, skip: 1 }, 2)).toBe("ok");
    expect(ktapOutcome({ pass: 0, fail: 0, skip: 2 }, 2)).toBe("nothing-ran");
    expect(ktapOutcome({ pass: 0, fail: 0, skip: 0 }, 0)).toBe("nothing-ran");
    expect(ktapOutcome({ pass: 2, fail: 1, skip: 0 }, 3)).toBe("fail");
    expect(ktapOutcome({ pass: 2, fail: 0, skip: 0 }, 3)).toBe("fail");
    expect(ktapOutcome({ pass: 3, fail: 0, skip: 0 }, 3)).toBe("ok");
    expect(exitCodeOf("ok")).toBe(0);
    expect(exitCodeOf("fail")).toBe(1);
    expect(exitCodeOf("nothing-ran")).toBe(4);
  });
});

describe("line formatting", () => {
  test("names and reasons on one line without '#'", () => {
    expect(ktapText("a #1\r\n  b\tc ")).toBe("a 1 b c");
    expect(ktapResultLine(1, "x # y", "pass")).toBe("ok 1 x y");
    expect(ktapResultLine(2, "x", "fail")).toBe("not ok 2 x");
    expect(ktapResultLine(3, "x", "fail", "TIMEOUT 1 s")).toBe("not ok 3 x # TIMEOUT 1 s");
    expect(ktapResultLine(4, "x", "skip", "why\n#not")).toBe("ok 4 x # SKIP why not");
    expect(ktapResultLine(5, "x", "skip")).toBe("ok 5 x # SKIP");
    expect(ktapResultLine(6, "x", "pass", "")).toBe("ok 6 x");
  });

  test("diagnostics: one '# ' line per line, no trailing blanks", () => {
    expect(ktapDiagnostics(["a\nb", "", "c  "])).toEqual(["# a", "# b", "#", "# c"]);
    expect(ktapTotals({ pass: 1, fail: 2, skip: 3 })).toBe("# Totals: pass:1 fail:2 xfail:0 xpass:0 skip:3 error:0");
  });
});
