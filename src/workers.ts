// Every Worker entrypoint, by name. This module sits beside main.ts on
// purpose: inside the compiled binary import.meta.url is the executable for
// every module, so these relative paths resolve the same in `bun run`, in
// `bun test` and in dist/uffd-suite. build.ts passes each path as an entrypoint.
export const WORKER_ENTRIES = {
  handler: "./harness/handler.worker.ts",
  toucher: "./harness/toucher.worker.ts",
  syscall: "./harness/syscall.worker.ts",
  "bench-faulter": "./bench/faulter.worker.ts",
  stress: "./stress/stress.worker.ts",
  "explore-toucher": "./explore/toucher.worker.ts",
} as const;

export type WorkerName = keyof typeof WORKER_ENTRIES;

export function workerUrl(name: WorkerName): URL {
  return new URL(WORKER_ENTRIES[name], import.meta.url);
}
