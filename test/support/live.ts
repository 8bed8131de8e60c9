// A uffd-suite process watched while it runs: its stdout read as it comes,
// so a test can wait for a line, then signal it, then collect the rest.
import type { Subprocess } from "bun";

export interface Finished {
  readonly code: number | null;
  readonly signal: string | null;
  readonly out: string;
  readonly err: string;
}

export class Live {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  out = "";
  err = "";
  readonly #done: Promise<void>;

  constructor(cmd: string[], opts: { env: Record<string, string>; cwd?: string }) {
    this.proc = Bun.spawn(cmd, { env: opts.env, cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const drain = async (stream: ReadableStream<Uint8Array>, add: (t: string) => void) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) add(dec.decode(chunk, { stream: true }));
    };
    this.#done = Promise.all([drain(this.proc.stdout, (t) => (this.out += t)), drain(this.proc.stderr, (t) => (this.err += t))]).then(
      () => {},
    );
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Wait until stdout matches `re` (throws with what came, after `ms`). */
  async waitFor(re: RegExp, ms = 30_000): Promise<void> {
    const end = performance.now() + ms;
    while (!re.test(this.out)) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${re}:\n${this.out}\n${this.err}`);
      }
      if (performance.now() > end) throw new Error(`no ${re} within ${ms} ms:\n${this.out}\n${this.err}`);
      await Bun.sleep(20);
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  /** Wait for the end (SIGKILL after `ms`, so a hung process fails the test instead of hanging it). */
  async finish(ms = 20_000): Promise<Finished & { hung: boolean }> {
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      this.proc.kill("SIGKILL");
    }, ms);
    await this.proc.exited;
    clearTimeout(timer);
    await this.#done;
    return {
      code: this.proc.exitCode,
      signal: this.proc.signalCode === null ? null : String(this.proc.signalCode),
      out: this.out,
      err: this.err,
      hung,
    };
  }
}
