// Message plumbing shared by the pooled Worker entrypoints: run each job,
// reply with its result or its error.
import type { Job, Reply, Request } from "./protocol.ts";

declare const self: Worker;

export function serveRequests(run: (job: Job) => unknown): void {
  self.onmessage = (e: MessageEvent<Request>) => {
    const { id, job } = e.data;
    let reply: Reply;
    try {
      reply = { id, ok: true, result: run(job) };
    } catch (err) {
      const e2 = err as Error;
      reply = { id, ok: false, error: e2?.message ?? String(err), errorName: e2?.name ?? "Error" };
    }
    self.postMessage(reply);
  };
  self.postMessage({ id: 0, ok: true, result: "ready" } satisfies Reply);
}
