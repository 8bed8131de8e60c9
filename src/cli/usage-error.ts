/**
 * Bad input on the command line. The CLI reports it as one line on stderr
 * and exits 2; commands throw it for values citty cannot check (numbers, sizes).
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
