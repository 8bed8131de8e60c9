// No verdict a case did not send: case processes are killed and crashed at
// every stage (before their request, while warming, with the request, during
// the case, after half a record, after the whole record, a bad exit code, a
// record for another request, a record twice), and every result line the
// runner prints must match a record that case really sent from a process
// that then exited cleanly.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { judge } from "../src/unit/isolate.ts";
import type { PlannedCase } from "../src/unit/plan.ts";
import { ackLine, type CaseRequest, readProgress, recordLine } from "../src/unit/record.ts";
import { KtapSink } from "../src/report/ktap.ts";
import { runUnit } from "../src/unit/runner.ts";
import { testOnlyCases } from "../src/unit/test-cases.ts";

const entry: PlannedCase = { unit: testOnlyCases.find((c) => c.name === "selftest-pass")!, mem: undefined, name: "selftest-pass" };
const req: CaseRequest = { case: "selftest-pass", token: "t0k3n" };
const pass = { status: "pass" as const, diagnostics: [] };
const clean = { exitCode: 0, signalCode: null, timedOut: false, sent: true };
const opts = { stderr: "", timeoutLabel: "60 s" };

describe("reading a case process's stdout (no processes)", () => {
  test("a whole record with the token, from a clean exit, is the verdict", () => {
    const out = ackLine(req) + recordLine(req, pass);
    expect(judge(entry, readProgress(out, req), clean, opts)).toEqual(pass);
  });

  const bad: Array<[string, string, RegExp]> = [
    ["nothing at all", "", /exited with code 0 before it took its case/],
    ["an ack only", ackLine(req), /during its case, before any result/],
    ["half a record", ackLine(req) + recordLine(req, pass).slice(0, 30), /while writing its result \(half a record\)/],
    ["a record for another token", recordLine({ ...req, token: "other" }, pass), /for another request/],
    ["a record for another case", recordLine({ ...req, case: "selftest-fail" }, pass), /not for the case sent/],
    ["a record for another memory type", recordLine({ ...req, mem: "anon" }, pass), /not for the case sent/],
    ["two records", recordLine(req, pass) + recordLine(req, pass), /2 result records/],
    ["output after the record", `${recordLine(req, pass)}{"kind":"res`, /output after its record/],
    ["a record without a valid result", recordLine(req, { status: "ok" } as never), /without a valid result/],
    ["a line that is no record", '{"status":"pass","diagnostics":[]}\n', /no record/],
  ];
  for (const [what, out, why] of bad) {
    test(`${what}: not ok, saying so`, () => {
      const r = judge(entry, readProgress(out, req), clean, opts);
      expect(r.status).toBe("fail");
      expect(r.diagnostics.join("\n")).toMatch(why);
    });
  }

  test("a whole pass record, then a crash or a bad exit code: not ok, the record shown as a diagnostic", () => {
    const out = ackLine(req) + recordLine(req, pass);
    const crashed = judge(entry, readProgress(out, req), { ...clean, exitCode: null, signalCode: "SIGSEGV" }, opts);
    expect(crashed).toMatchObject({ status: "fail", reason: "crashed: SIGSEGV" });
    expect(crashed.diagnostics.at(-1)).toBe("selftest-pass: case process killed by SIGSEGV after its result (pass)");
    const exited = judge(entry, readProgress(out, req), { ...clean, exitCode: 3 }, opts);
    expect(exited.status).toBe("fail");
    expect(exited.diagnostics.at(-1)).toBe("selftest-pass: case process exited with code 3 after its result (pass)");
  });

  test("a time limit overrides whatever was sent", () => {
    const r = judge(
      entry,
      readProgress(recordLine(req, pass), req),
      { ...clean, timedOut: true, exitCode: null, signalCode: "SIGKILL" },
      opts,
    );
    expect(r).toMatchObject({ status: "fail", reason: "TIMEOUT 60 s" });
  });
});

// The run: a pass, a fail, a skip, a case that takes 300 ms and passes, and
// another pass; two side by side. The fault is aimed at testonly-sleep (a case
// that passes) where a stage knows its case; the first process to reach an
// earlier stage takes it, whatever case it is then given.
const RUN_CASES = ["selftest-pass", "selftest-fail", "testonly-skip", "testonly-sleep", "selftest-pass"].map(
  (n) => testOnlyCases.find((c) => c.name === n)!,
);
const EXPECTED: Record<string, Line["status"]> = {
  "selftest-pass": "pass",
  "selftest-fail": "fail",
  "testonly-skip": "skip",
  "testonly-sleep": "pass",
};

const dir = mkdtempSync(join(tmpdir(), "uffd-verdicts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Line {
  readonly n: number;
  readonly name: string;
  readonly status: "pass" | "fail" | "skip";
  readonly directive: string;
}

function resultLines(text: string): Line[] {
  return text.split("\n").flatMap((l) => {
    const m = /^(not ok|ok) (\d+) ([^#]*?)\s*(?:# (.*))?$/.exec(l);
    if (!m) return [];
    const status = m[1] === "not ok" ? "fail" : /^SKIP\b/.test(m[4] ?? "") ? "skip" : "pass";
    return [{ n: Number(m[2]), name: m[3]!, status, directive: m[4] ?? "" }];
  });
}

async function faultedRun(
  fault: string,
): Promise<{ text: string; sent: Array<{ case: string; status: string; pid: number }>; fired: boolean }> {
  const tag = fault.replace(/\W/g, "_");
  const log = join(dir, `${tag}.log`);
  const claim = join(dir, `${tag}.claim`);
  const env = {
    UFFD_SUITE_TEST_CASES: "1",
    UFFD_SUITE_CASE_FAULT: fault,
    UFFD_SUITE_CASE_FAULT_CLAIM: claim,
    UFFD_SUITE_RECORD_LOG: log,
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let text = "";
  try {
    const ktap = new KtapSink((t) => (text += t));
    await runUnit({ cases: RUN_CASES, timeoutS: 20, setup: false, isolate: true, jobs: 2, sink: ktap, stderr: () => {} });
    ktap.totals();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const sent = existsSync(log)
    ? readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  // The claim file is made by the one process the fault fired in.
  return { text, sent, fired: existsSync(claim) };
}

/** Each ok line (pass or skip) and each plain not ok has a record of that verdict sent for that name; the totals agree with the lines. */
function expectOnlySentVerdicts(text: string, sent: Array<{ case: string; status: string }>): Line[] {
  const lines = resultLines(text);
  expect(lines.map((l) => l.name)).toEqual(RUN_CASES.map((c) => c.name));
  expect(lines.map((l) => l.n)).toEqual(RUN_CASES.map((_, i) => i + 1));
  const unclaimed = [...sent];
  for (const l of lines) {
    const plainFail = l.status === "fail" && l.directive === "";
    if (l.status === "fail" && !plainFail) continue;
    // A plain not ok may also be the runner's own "no valid result" verdict: only ok lines must each match a record.
    const at = unclaimed.findIndex((s) => s.case === l.name && s.status === l.status);
    if (l.status !== "fail") {
      if (at < 0) throw new Error(`result ${l.n} (${l.name}: ${l.status}) matches no record the case sent\n${text}`);
      unclaimed.splice(at, 1);
    } else if (at >= 0) {
      unclaimed.splice(at, 1);
    }
  }
  const count = (s: Line["status"]) => lines.filter((l) => l.status === s).length;
  expect(text).toContain(`# Totals: pass:${count("pass")} fail:${count("fail")} xfail:0 xpass:0 skip:${count("skip")} error:0`);
  return lines;
}

describe("case processes killed and crashed at every stage: only verdicts really sent are printed", () => {
  const runs: Array<[string, RegExp]> = [
    ["start:segv", /before it took its case/],
    ["start:kill", /before it took its case/],
    ["warm:segv", /before it took its case/],
    ["warm:kill", /before it took its case/],
    ["request:segv:testonly-sleep", /during its case, before any result/],
    ["request:kill:testonly-sleep", /during its case, before any result/],
    ["case:segv:testonly-sleep", /during its case, before any result/],
    ["case:kill:testonly-sleep", /during its case, before any result/],
    ["case:abort:testonly-sleep", /during its case, before any result/],
    ["partial:segv:testonly-sleep", /half a record/],
    ["partial:kill:testonly-sleep", /half a record/],
    ["record:segv:testonly-sleep", /after its result \(pass\)/],
    ["record:kill:testonly-sleep", /after its result \(pass\)/],
    ["exit::testonly-sleep", /exited with code 3 after its result \(pass\)/],
    ["forged::testonly-sleep", /for another request/],
    ["twice::testonly-sleep", /2 result records/],
    // Dies idle after its pass: the next case given to it runs in a new process.
    ["idle:segv:selftest-pass", /never/],
    ["idle:kill:selftest-pass", /never/],
  ];
  for (const [fault, why] of runs) {
    test(fault, async () => {
      const { text, sent, fired } = await faultedRun(fault);
      // The planted fault really fired (else the run proves nothing about it).
      expect(fired).toBe(true);
      const lines = expectOnlySentVerdicts(text, sent);
      const hit = lines.filter((l) => l.status !== EXPECTED[l.name]);
      const early = fault.startsWith("start") || fault.startsWith("warm");
      // A spare that took an early fault may never have been given a case; an idle death costs no case its verdict.
      if (fault.startsWith("idle")) expect(hit).toEqual([]);
      else if (early) expect(hit.length).toBeLessThanOrEqual(1);
      else expect(hit.map((l) => l.name)).toEqual(["testonly-sleep"]);
      for (const l of hit) {
        expect(l.status).toBe("fail");
        // Its diagnostics: the "# " lines just before its result line.
        const above = text
          .slice(0, text.indexOf(`not ok ${l.n} ${l.name}`))
          .trimEnd()
          .split("\n");
        const diags = above.slice(above.findLastIndex((x) => !x.startsWith("# ")) + 1);
        expect(diags.join("\n")).toMatch(why);
      }
      // Every case that was not hit gave its own verdict.
      for (const l of lines.filter((x) => !hit.includes(x))) expect(l.status).toBe(EXPECTED[l.name]!);
    }, 40_000);
  }
});

test("the fault hooks are inert without UFFD_SUITE_TEST_CASES=1", () => {
  const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "../src/main.ts"), "unit-case", "--case", "UFFDIO_API (with syscall)"], {
    env: { ...process.env, UFFD_SUITE_TEST_CASES: "", UFFD_SUITE_CASE_FAULT: "request:segv" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode).toBe(0);
  expect(r.stdout.toString()).toMatch(
    /^\{"kind":"ack","token":null\}\n\{"kind":"result","token":null,"case":"UFFDIO_API \(with syscall\)","mem":null,"result":\{"status":"pass"/,
  );
});
