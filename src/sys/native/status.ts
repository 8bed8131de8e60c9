// A child's end, as waitpid reports it, in words.

/** Signal names by number (x86_64 and aarch64 share 1–31). */
export const SIGNAL_NAMES: Readonly<Record<number, string>> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  16: "SIGSTKFLT",
  17: "SIGCHLD",
  18: "SIGCONT",
  19: "SIGSTOP",
  20: "SIGTSTP",
  21: "SIGTTIN",
  22: "SIGTTOU",
  23: "SIGURG",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  26: "SIGVTALRM",
  27: "SIGPROF",
  28: "SIGWINCH",
  29: "SIGIO",
  30: "SIGPWR",
  31: "SIGSYS",
};

export const SIG = { BUS: 7, KILL: 9, SEGV: 11 } as const;

export function signalName(signal: number): string {
  return SIGNAL_NAMES[signal] ?? `SIGRT${signal}`;
}

export type ChildStatus =
  | { readonly kind: "exited"; readonly code: number }
  | { readonly kind: "signaled"; readonly signal: number; readonly name: string; readonly coreDumped: boolean }
  /**
   * Still running at the deadline: it was killed with SIGKILL and reaped.
   * `blocked`: where it was just before the kill (see blockedAt), when readable.
   */
  | { readonly kind: "timeout"; readonly timeoutMs: number; readonly blocked?: string };

/** Decode waitpid's status word (exited or killed; stop reports are not asked for). */
export function decodeWaitStatus(raw: number): ChildStatus {
  const sig = raw & 0x7f;
  if (sig === 0) return { kind: "exited", code: (raw >> 8) & 0xff };
  if (sig === 0x7f) throw new Error(`waitpid reported a stopped child (status 0x${raw.toString(16)})`);
  return { kind: "signaled", signal: sig, name: signalName(sig), coreDumped: (raw & 0x80) !== 0 };
}

export function describeStatus(s: ChildStatus): string {
  switch (s.kind) {
    case "exited":
      return `exited with code ${s.code}`;
    case "signaled":
      return `killed by ${s.name}${s.coreDumped ? " (core dumped)" : ""}`;
    case "timeout":
      return `still running after ${s.timeoutMs} ms (killed)${s.blocked ? `; it was ${s.blocked}` : ""}`;
  }
}
