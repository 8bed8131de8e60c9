// Waiting for a child without stalling the JS thread: a pidfd polled in short
// slices (the event loop runs between them), or waitpid(WNOHANG) with backoff
// where pidfd_open is missing (before Linux 5.3).
import { readFileSync } from "node:fs";
import { syscallTable } from "../arch.ts";
import { Errno, lastErrno, SysError } from "../errno.ts";
import { POLL, pollRevents } from "../fd.ts";
import { libc } from "../libc.ts";
import { type ChildStatus, decodeWaitStatus, SIG } from "./status.ts";

const WNOHANG = 1;
/** Longest the JS thread is held in one poll. */
const SLICE_MS = 2;
/** How long a SIGKILLed child may take to be reaped before we give up on it. */
const REAP_AFTER_KILL_MS = 10_000;

const statusWord = new Int32Array(new ArrayBuffer(8));

/** Reap `pid` if it has ended; undefined while it runs. */
export function tryReap(pid: number): ChildStatus | undefined {
  for (;;) {
    const r = libc.waitpid(pid, statusWord, WNOHANG);
    if (r === pid) return decodeWaitStatus(statusWord[0]!);
    if (r === 0) return undefined;
    const err = lastErrno();
    if (err !== Errno.EINTR) throw new SysError("waitpid", err, `pid ${pid}`);
  }
}

function pidfdOpen(pid: number): number {
  const fd = libc.syscall(syscallTable().pidfd_open, pid, 0, 0, 0, 0);
  return fd < 0 ? -1 : fd;
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitUntil(pid: number, deadline: number): Promise<ChildStatus | undefined> {
  const pidfd = pidfdOpen(pid);
  try {
    for (let round = 0; ; round++) {
      const s = tryReap(pid);
      if (s) return s;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      if (pidfd >= 0) {
        if (pollRevents(pidfd, POLL.IN, Math.max(0, Math.min(SLICE_MS, Math.ceil(left)))) === 0) await nextTick();
      } else {
        await (round < 20 ? nextTick() : sleep(Math.min(10, round - 19, left)));
      }
    }
  } finally {
    if (pidfd >= 0) libc.close(pidfd);
  }
}

/** Frames of a kernel stack that say nothing about why a task waits. */
const SCHEDULER_FRAMES =
  /^(__schedule|schedule|schedule_timeout|io_schedule|do_syscall_64|entry_SYSCALL_64\w*|x64_sys_call|asm_exc_page_fault|exc_page_fault)\b/;

/**
 * Where a running task is, for a hang report: "blocked in handle_userfault
 * (handle_userfault < __handle_mm_fault < handle_mm_fault)" from its kernel
 * stack (root), else its wchan; undefined when neither can be read. A task in
 * user space reads as "running in user space".
 */
export function blockedAt(pid: number): string | undefined {
  const read = (f: string) => {
    try {
      return readFileSync(`/proc/${pid}/${f}`, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const frames = (read("stack") ?? "")
    .split("\n")
    .map((l) => /\]\s+([\w.]+)/.exec(l)?.[1])
    .filter((f): f is string => f !== undefined && !SCHEDULER_FRAMES.test(f));
  if (frames.length > 0) return `blocked in ${frames[0]} (${frames.slice(0, 5).join(" < ")})`;
  const wchan = read("wchan");
  if (wchan === undefined) return undefined;
  return wchan === "0" || wchan === "" ? "running in user space" : `blocked in ${wchan}`;
}

/**
 * Wait for child `pid` to end. Past `timeoutMs` (default 10 s) the child is
 * killed with SIGKILL and reaped, and the answer is `{ kind: "timeout" }`:
 * no zombie and no running child is left behind either way.
 */
export async function waitChild(pid: number, opts: { timeoutMs?: number } = {}): Promise<ChildStatus> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const s = await waitUntil(pid, performance.now() + timeoutMs);
  if (s) return s;
  const blocked = blockedAt(pid);
  if (libc.kill(pid, SIG.KILL) < 0 && lastErrno() !== Errno.ESRCH) throw new SysError("kill", lastErrno(), `pid ${pid}`);
  const dead = await waitUntil(pid, performance.now() + REAP_AFTER_KILL_MS);
  if (!dead) throw new Error(`child ${pid} did not die within ${REAP_AFTER_KILL_MS} ms of SIGKILL`);
  // It may have ended on its own between the last look and the kill.
  return dead.kind === "signaled" && dead.signal === SIG.KILL ? { kind: "timeout", timeoutMs, blocked } : dead;
}
