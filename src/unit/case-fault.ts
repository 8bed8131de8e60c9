// Test only: a fault planted in a case process at a chosen stage, and a log
// of the result records it really sent, to prove that the runner prints no
// verdict a case did not send. Inert unless UFFD_SUITE_TEST_CASES=1.
//
//   UFFD_SUITE_CASE_FAULT=STAGE:HOW[:CASE]
//     STAGE  start (before warming up), warm (warm, before reading its case),
//            request (has its case, sent the ack), case (while the case runs),
//            partial (after half the record), record (after the whole record),
//            exit (exit code 3 after the record), forged (a record with another
//            token instead of its own), twice (its record twice), idle (just
//            after saying it is ready for another case)
//     HOW    segv (reads address 8), kill (SIGKILL), abort (SIGABRT)
//     CASE   only a process given this case
//   UFFD_SUITE_CASE_FAULT_CLAIM=FILE  the first process to reach the stage
//     creates FILE and takes the fault; the others run clean
//   UFFD_SUITE_RECORD_LOG=FILE  each record written whole to stdout is
//     appended there as JSON (token, case, mem, status, pid, start and end ms)
import { appendFileSync, closeSync, openSync, writeSync } from "node:fs";
import { u64At } from "../sys/mem.ts";
import type { CaseRequest } from "./record.ts";
import type { CaseResult } from "./result.ts";

type Stage = "start" | "warm" | "request" | "case" | "partial" | "record" | "exit" | "forged" | "twice" | "idle";

interface Fault {
  readonly stage: Stage;
  readonly how: "segv" | "kill" | "abort";
  readonly case?: string;
}

function parseFault(env: Record<string, string | undefined>): Fault | undefined {
  if (env.UFFD_SUITE_TEST_CASES !== "1" || !env.UFFD_SUITE_CASE_FAULT) return undefined;
  const [stage, how, name] = env.UFFD_SUITE_CASE_FAULT.split(":");
  return { stage: stage as Stage, how: (how ?? "kill") as Fault["how"], case: name || undefined };
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
}

class CaseFault {
  readonly #fault = parseFault(process.env);
  readonly #log = process.env.UFFD_SUITE_TEST_CASES === "1" ? process.env.UFFD_SUITE_RECORD_LOG : undefined;
  #case: string | undefined;
  #claimed: boolean | undefined;

  /** The case this process was given (faults aimed at a case wait for it). */
  take(name: string): void {
    this.#case = name;
  }

  #mine(stage: Stage): boolean {
    const f = this.#fault;
    if (!f || f.stage !== stage) return false;
    if (f.case !== undefined && f.case !== this.#case) return false;
    if (this.#claimed === undefined) {
      const claim = process.env.UFFD_SUITE_CASE_FAULT_CLAIM;
      try {
        if (claim) closeSync(openSync(claim, "wx"));
        this.#claimed = true;
      } catch {
        this.#claimed = false;
      }
    }
    return this.#claimed;
  }

  #fire(): void {
    const how = this.#fault?.how;
    if (how === "segv") u64At(8);
    if (how === "abort") process.abort();
    process.kill(process.pid, "SIGKILL");
  }

  at(stage: "start" | "warm" | "request" | "record" | "idle"): void {
    if (this.#mine(stage)) this.#fire();
  }

  /** Stage "case": the fault comes while the case runs. */
  during(): void {
    if (this.#mine("case")) setTimeout(() => this.#fire(), 20);
  }

  /** Write the record line to stdout (or what the planted fault makes of it). */
  write(line: string): void {
    if (this.#mine("partial")) {
      writeAll(1, line.slice(0, line.length >> 1));
      this.#fire();
    }
    if (this.#mine("forged")) {
      const v = JSON.parse(line) as { token: string };
      writeAll(1, line.replace(v.token, "0".repeat(v.token.length)));
      return;
    }
    writeAll(1, this.#mine("twice") ? line + line : line);
  }

  logSent(req: CaseRequest, r: CaseResult, t: { startedAt: number; endedAt: number }): void {
    if (!this.#log || this.#mine("forged")) return;
    const entry = { token: req.token, case: req.case, mem: req.mem ?? null, status: r.status, pid: process.pid, ...t };
    appendFileSync(this.#log, `${JSON.stringify(entry)}\n`);
  }

  /** Stage "exit": the process ends with code 3 right after the record. */
  exitsAfterRecord(): boolean {
    return this.#mine("exit");
  }
}

export const caseFault = new CaseFault();
