// The cases of one job, read from lava-run's log stream (one record a line,
// `{"dt": ..., "lvl": ..., "msg": ...}`, a YAML list item on a server), not from the job's result:
// LAVA calls a job that ran its test shell to the end "pass" however many
// cases failed. A case's notes are the target's lines between its
// STARTTC and ENDTC signals.
export interface LavaCase {
  /** The test definition ("1_uffd-suite"), or "lava" for LAVA's own actions. */
  readonly definition: string;
  readonly name: string;
  readonly result: string;
  readonly notes: readonly string[];
}

export interface LavaLog {
  readonly cases: readonly LavaCase[];
  /** LAVA's own verdict on the job and its error, if any. */
  readonly job: { result: string; error?: string } | undefined;
  /** The target's console lines (for the last words of a job that broke). */
  readonly console: readonly string[];
  /**
   * The ids the test definition printed as results on the console (its TAP
   * lines, `ok 62 poison_on_anon`): each should come back as a case.
   */
  readonly printed: readonly string[];
}

interface LogRecord {
  readonly lvl?: string;
  readonly msg?: unknown;
}

function parseRecord(line: string): LogRecord | undefined {
  const body = line.startsWith("- ") ? line.slice(2) : line;
  if (!body.startsWith("{")) return undefined;
  try {
    return JSON.parse(body) as LogRecord;
  } catch {
    try {
      return Bun.YAML.parse(body) as LogRecord;
    } catch {
      return undefined;
    }
  }
}

/** Read a log stream as it grows: feed lines, then take what it holds. */
export class LavaLogReader {
  private readonly cases: LavaCase[] = [];
  private readonly consoleLines: string[] = [];
  private readonly printed: string[] = [];
  private readonly notes = new Map<string, string[]>();
  private open: string | undefined;
  private job: { result: string; error?: string } | undefined;

  /** One line of the stream; a case it completes is returned. */
  line(text: string): LavaCase | undefined {
    const rec = parseRecord(text);
    if (!rec) return undefined;
    // LAVA escapes each double quote of the console (for its YAML); undone here.
    if (rec.lvl === "target" && typeof rec.msg === "string") return this.target(rec.msg.replaceAll('\\"', '"'));
    if (rec.lvl !== "results" || typeof rec.msg !== "object" || rec.msg === null) return undefined;
    const m = rec.msg as Record<string, unknown>;
    const definition = String(m.definition ?? "");
    const name = String(m.case ?? "");
    const result = String(m.result ?? "");
    if (definition === "lava" && name === "job") {
      this.job = { result, ...(m.error_msg ? { error: String(m.error_msg) } : {}) };
    }
    const c: LavaCase = { definition, name, result, notes: this.notes.get(name) ?? [] };
    this.cases.push(c);
    return c;
  }

  private target(msg: string): undefined {
    this.consoleLines.push(msg);
    if (this.consoleLines.length > 200) this.consoleLines.shift();
    // A slug stops at the first character a slug cannot hold (a kernel message may follow on the same line).
    const printed = /^(?:not )?ok \d+ ([A-Za-z0-9_.+-]+)/.exec(msg);
    if (printed) this.printed.push(printed[1]!);
    const start = /<LAVA_SIGNAL_STARTTC ([^>]+)>/.exec(msg);
    if (start) {
      this.open = start[1]!;
      this.notes.set(this.open, []);
      return undefined;
    }
    if (/<LAVA_SIGNAL_ENDTC [^>]+>/.test(msg)) {
      this.open = undefined;
      return undefined;
    }
    if (this.open && !msg.includes("<LAVA_SIGNAL_")) this.notes.get(this.open)!.push(msg);
    return undefined;
  }

  result(): LavaLog {
    return { cases: this.cases, job: this.job, console: this.consoleLines, printed: this.printed };
  }
}

export function readLavaLog(text: string): LavaLog {
  const r = new LavaLogReader();
  for (const line of text.split("\n")) r.line(line);
  return r.result();
}
