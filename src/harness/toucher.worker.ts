// Pooled Worker that raises faults: it touches registered memory and verifies it.
import { runNativeFault } from "./native-fault.ts";
import { touch } from "./touch.ts";
import { serveRequests } from "./worker-main.ts";

serveRequests((job) => {
  if (job.type === "native-fault") return runNativeFault(job);
  if (job.type !== "touch") throw new Error(`toucher cannot run a ${job.type} job`);
  return touch(job);
});
