// Reading a child process's output line by line.

/** Lines of a stream as they come; at its end, what followed the last newline. */
export class LineReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #dec = new TextDecoder();
  #buf = "";
  #ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  }

  /** The next whole line, or undefined at the end of the stream. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const i = this.#buf.indexOf("\n");
      if (i >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        return line;
      }
      if (this.#ended) return undefined;
      const { value, done } = await this.#reader.read();
      if (done) this.#ended = true;
      else this.#buf += this.#dec.decode(value, { stream: true });
    }
  }

  /** After the end: the unfinished last line ("" if none). */
  get rest(): string {
    return this.#buf;
  }
}
