// Faulting Worker of `uffd-suite bench`: touches one byte of every page of
// its slice once, between a shared start signal and its own end time. The
// loop itself is all it times; the handler Worker does the rest.
import { toArrayBufferAt } from "../sys/mem.ts";
import { CONTROL, type FaulterMessage, type FaultJob } from "./protocol.ts";

declare const self: Worker;

function post(m: FaulterMessage): void {
  self.postMessage(m);
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function fault(job: FaultJob): void {
  const bytes = new Uint8Array(toArrayBufferAt(job.start, job.pages * job.pageSize));
  const control = new Int32Array(job.control);
  const ps = job.pageSize;
  const n = job.pages;
  post({ type: "ready" });
  Atomics.add(control, CONTROL.ready, 1);
  Atomics.wait(control, CONTROL.go, 0);
  const t0 = now();
  let sink = 0;
  if (job.write) {
    for (let p = 0; p < n; p++) bytes[p * ps] = 1;
  } else {
    for (let p = 0; p < n; p++) sink += bytes[p * ps]!;
  }
  const t1 = now();
  post({ type: "done", t0, t1, touched: n + (sink & 0) });
}

self.onmessage = (e: MessageEvent<FaultJob>) => {
  try {
    fault(e.data);
  } catch (err) {
    post({ type: "error", message: (err as Error)?.message ?? String(err) });
  }
};
post({ type: "started" });
