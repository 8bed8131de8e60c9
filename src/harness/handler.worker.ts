// Pooled Worker that serves userfaultfd faults (see serve.ts).
import { serve } from "./serve.ts";
import { serveRequests } from "./worker-main.ts";

serveRequests((job) => {
  if (job.type !== "serve") throw new Error(`handler cannot run a ${job.type} job`);
  return serve(job);
});
