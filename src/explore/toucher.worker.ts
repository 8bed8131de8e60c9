// explore's toucher: touches the explored area (never the main thread, which
// serves the userfaultfd) and makes the memory calls that may wait for the
// main thread to read an event (madvise, mremap, munmap). One request at a
// time through the shared control block; each reply is signalled on a pipe
// so the main thread can poll it together with the userfaultfd.
import { lastErrno } from "../sys/errno.ts";
import { gettid } from "../sys/fd.ts";
import { libc } from "../sys/libc.ts";
import { MREMAP, PROT, toArrayBufferAt } from "../sys/mem.ts";
import { poisonScan } from "../sys/native/faults.ts";
import { CONTROL_BYTES, D, I, TOUCH_OP, type ToucherInit } from "./shared.ts";

declare const self: Worker;

/** Polls of the control block before sleeping on it (a few microseconds). */
const SPIN = 2000;

function serve(init: ToucherInit): void {
  const i32 = new Int32Array(init.sab, 0, CONTROL_BYTES / 4);
  const f64 = new Float64Array(init.sab, 0, CONTROL_BYTES / 8);
  const one = new Uint8Array(new ArrayBuffer(8));
  one[0] = 1;
  Atomics.store(i32, I.TID, gettid());
  let seen = 0;
  for (;;) {
    // A request usually follows soon: look for it a little before sleeping.
    for (let spin = 0; spin < SPIN && Atomics.load(i32, I.SEQ) === seen; spin++);
    if (Atomics.load(i32, I.SEQ) === seen) Atomics.wait(i32, I.SEQ, seen);
    seen = Atomics.load(i32, I.SEQ);
    const op = i32[I.OP]!;
    if (op === TOUCH_OP.EXIT) return;
    const addr = f64[D.ADDR]!;
    let result = 0;
    let sigbus = 0;
    switch (op) {
      case TOUCH_OP.READ:
        result = new Int32Array(toArrayBufferAt(addr, 4))[0]!;
        break;
      case TOUCH_OP.WRITE:
        new Int32Array(toArrayBufferAt(addr, 4))[0] = i32[I.VALUE]!;
        break;
      case TOUCH_OP.SCAN: {
        const r = poisonScan({ dst: addr, pages: 1, pageSize: f64[D.LEN]! });
        sigbus = r.sigbus;
        break;
      }
      case TOUCH_OP.MADVISE:
        result = libc.madvise(addr, f64[D.LEN]!, f64[D.ARG]!) < 0 ? -lastErrno() : 0;
        break;
      case TOUCH_OP.MREMAP: {
        const len = f64[D.LEN]!;
        const r = libc.mremap(addr, len, len, MREMAP.MAYMOVE | MREMAP.FIXED, f64[D.ARG]!);
        result = typeof r === "bigint" ? -lastErrno() : 0;
        break;
      }
      case TOUCH_OP.REMAP_FRESH: {
        // MAP_FIXED replaces the range in one step (unmapping it first would leave a gap another thread could take).
        const r = libc.mmap(addr, f64[D.LEN]!, PROT.READ | PROT.WRITE, i32[I.FLAGS]!, i32[I.FD]!, f64[D.OFFSET]!);
        result = typeof r === "bigint" ? -lastErrno() : 0;
        break;
      }
    }
    i32[I.RESULT] = result;
    i32[I.SIGBUS] = sigbus;
    Atomics.store(i32, I.DONE, seen);
    libc.write(init.doneFd, one, 1);
  }
}

self.onmessage = (e: MessageEvent<ToucherInit>) => {
  self.postMessage("ready");
  serve(e.data);
  self.postMessage("stopped");
};
