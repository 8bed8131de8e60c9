// The locking loop of a stress group (the C's locking_thread), run inside a
// pooled Worker: pick a page (getrandom(2) per pick in random bounces, as the
// C does; else the next one), lock the pthread mutex at its start through libc
// (so the first touch of a missing page is the mutex read), check the page's
// counter against the verification array, bump both, unlock. Until told to
// stop. Hot loop: numbers only, no allocation, one Atomics load per lock.
import { libc } from "../sys/libc.ts";
import { Scratch, toArrayBufferAt } from "../sys/mem.ts";
import { CTRL, type LockJob, type LockResult } from "./protocol.ts";

export class CorruptionError extends Error {
  override readonly name = "CorruptionError";
}

const TWO32 = 4294967296;
/** getrandom(2) by architecture. */
const SYS_GETRANDOM: Readonly<Record<string, number>> = { x64: 318, arm64: 278 };

function stopAll(ctrl: Int32Array): void {
  Atomics.store(ctrl, CTRL.failed, 1);
  Atomics.store(ctrl, CTRL.stop, 1);
}

export function lockLoop(job: LockJob): LockResult {
  const ctrl = new Int32Array(job.ctrl);
  const verify = new Float64Array(job.verify);
  const pages = job.pages;
  const ps = job.pageSize;
  const dst = job.dst;
  // Counters as 32-bit halves; the page was faulted in by the lock before we read it.
  const words = new Uint32Array(toArrayBufferAt(dst, pages * ps));
  const stride = ps >>> 2;
  const countWord = job.countOffset >>> 2;
  const lock = libc.pthread_mutex_lock;
  const unlock = libc.pthread_mutex_unlock;
  const syscall = libc.syscall;
  const random = job.random;
  const writeFirst = job.writeFirst === true;
  const sysGetrandom = SYS_GETRANDOM[process.arch] ?? -1;
  const getrandom = random && job.rng !== "math" && sysGetrandom >= 0;
  // getrandom writes into memory C may hold a pointer to: an mmap'ed page, not a JS array.
  const rnd = new Scratch(4096);
  const rndAddr = rnd.addr;
  const rndWords = new Uint32Array(rnd.bytes.buffer, 0, 2);
  let next = job.firstPage;
  let locks = 0;
  try {
    while (Atomics.load(ctrl, CTRL.stop) === 0) {
      let page: number;
      if (getrandom) {
        if (syscall(sysGetrandom, rndAddr, 8, 0, 0, 0) !== 8) {
          stopAll(ctrl);
          throw new Error("getrandom failed");
        }
        page = rndWords[0]! % pages;
      } else if (random) {
        page = (Math.random() * pages) >>> 0;
      } else {
        page = next;
        next = next + 1 === pages ? 0 : next + 1;
      }
      const mutex = dst + page * ps;
      const w = page * stride + countWord;
      // Test-only: a store before the lock makes the first touch a write fault.
      if (writeFirst) words[w + 2] = 1;
      const rc = lock(mutex);
      if (rc !== 0) {
        stopAll(ctrl);
        throw new Error(`pthread_mutex_lock on page ${page} returned ${rc}`);
      }
      const lo = words[w]!;
      const hi = words[w + 1]!;
      const count = hi * TWO32 + lo;
      const want = verify[page]!;
      if (count !== want) {
        unlock(mutex);
        Atomics.add(ctrl, CTRL.corrupt, 1);
        stopAll(ctrl);
        throw new CorruptionError(`page ${page} memory corruption: counter ${count}, expected ${want}`);
      }
      const nlo = (lo + 1) >>> 0;
      words[w] = nlo;
      if (nlo === 0) words[w + 1] = hi + 1;
      verify[page] = count + 1;
      unlock(mutex);
      locks++;
    }
    return { locks };
  } finally {
    rnd.dispose();
  }
}
