// Test-only Worker: touches memory on request, so faults happen off the
// thread that serves the userfaultfd. Replies once the access has completed.
import { bytesAt } from "../../src/sys/mem.ts";

export type TouchRequest =
  | { readonly op: "read"; readonly addr: number; readonly len: number }
  | { readonly op: "write"; readonly addr: number; readonly value: number };

/** read: the bytes seen; write: the byte now at addr. */
export interface TouchReply {
  readonly bytes: number[];
}

declare const self: Worker;

self.onmessage = (e: MessageEvent<TouchRequest>) => {
  const req = e.data;
  if (req.op === "read") {
    self.postMessage({ bytes: Array.from(bytesAt(req.addr, req.len)) } satisfies TouchReply);
  } else {
    const b = bytesAt(req.addr, 1);
    b[0] = req.value;
    self.postMessage({ bytes: [b[0]!] } satisfies TouchReply);
  }
};
self.postMessage("ready");
