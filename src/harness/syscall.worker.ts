// Pooled Worker for system calls that may block until the test thread reads
// a userfaultfd event (see madvise-job.ts).
import { runMadvise } from "./madvise-job.ts";
import { serveRequests } from "./worker-main.ts";

serveRequests((job) => {
  if (job.type !== "madvise") throw new Error(`syscall worker cannot run a ${job.type} job`);
  return runMadvise(job);
});
