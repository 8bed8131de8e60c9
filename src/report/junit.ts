// The JUnit XML report, as GitLab and Jenkins read it:
//   <testsuites><testsuite name tests failures errors skipped time timestamp hostname>
//     <properties/>, then per result <testcase classname name time> holding
//     <skipped message/> or <failure message type>diagnostics</failure>
//     (diagnostics of a passing case in <system-out>).
// classname is uffd-suite.<part>.<memory>, so CI groups results by program and memory type.
import type { CaseRecord, RunReport } from "./model.ts";

/** Characters XML 1.0 does not allow at all (C0 controls but tab, LF, CR; lone surrogates; U+FFFE/U+FFFF). */
const NOT_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text content: the five entities, and no character XML forbids (shown as U+FFFD). */
export function xmlText(s: string): string {
  return s.replace(NOT_XML, "\uFFFD").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An attribute value in double quotes: also quotes, and line breaks kept as references. */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, "&quot;").replace(/'/g, "&apos;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;").replace(/\t/g, "&#9;");
}

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join("");
}

function testcase(c: CaseRecord): string {
  const head = `    <testcase${attrs({ classname: `uffd-suite.${c.part}.${c.memory ?? "none"}`, name: c.name, time: c.duration.toFixed(3) })}`;
  const diag = c.diagnostics.join("\n");
  if (c.result === "skip") {
    const out = diag ? `\n      <system-out>${xmlText(diag)}</system-out>` : "";
    return `${head}>\n      <skipped${attrs({ message: c.reason ?? "" })}/>${out}\n    </testcase>`;
  }
  if (c.result === "fail") {
    const body = diag || (c.reason ?? "failed");
    return `${head}>\n      <failure${attrs({ message: c.reason ?? "failed", type: "failure" })}>${xmlText(body)}</failure>\n    </testcase>`;
  }
  return diag ? `${head}>\n      <system-out>${xmlText(diag)}</system-out>\n    </testcase>` : `${head}/>`;
}

export function renderJunit(report: RunReport): string {
  const s = report.summary;
  const name = `uffd-suite ${report.command}`;
  const counts = { tests: s.total, failures: s.fail, errors: 0, skipped: s.skip, time: s.duration.toFixed(3) };
  const props = [
    ["version", report.version],
    ["kernel", report.kernel.release],
    ["arch", report.kernel.arch],
    ["planned", String(s.planned)],
    ...(s.interrupted ? [["interrupted", s.interrupted]] : []),
  ];
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${attrs({ name, ...counts })}>`,
    `  <testsuite${attrs({ name, ...counts, timestamp: report.started.replace(/\.\d+Z$/, "Z"), hostname: report.hostname })}>`,
    `    <properties>`,
    ...props.map(([k, v]) => `      <property${attrs({ name: k!, value: v! })}/>`),
    `    </properties>`,
    ...report.cases.map(testcase),
    ...(s.interrupted
      ? [`    <system-err>${xmlText(`Bail out! interrupted by ${s.interrupted} after ${s.total} of ${s.planned} results`)}</system-err>`]
      : []),
    `  </testsuite>`,
    `</testsuites>`,
  ];
  return `${lines.join("\n")}\n`;
}
