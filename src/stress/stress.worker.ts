// Pooled Worker of the stress command: runs a group's locking loop or its
// background copier, one bounce per job.
import { serveRequests } from "../harness/worker-main.ts";
import { backgroundCopy } from "./copy.ts";
import { lockLoop } from "./lock.ts";
import type { StressJob } from "./protocol.ts";

serveRequests((raw) => {
  const job = raw as unknown as StressJob;
  switch (job.type) {
    case "stress-lock":
      return lockLoop(job);
    case "stress-copy":
      return backgroundCopy(job);
    default:
      throw new Error(`stress worker cannot run a ${(raw as { type: string }).type} job`);
  }
});
