// Native helpers: run-time C (cc()) for what JavaScript cannot do in Bun —
// fork a child that runs only C, and take a SIGBUS without dying.
export * from "./native/load.ts";
export * from "./native/status.ts";
export * from "./native/wait.ts";
export * from "./native/child.ts";
export * from "./native/probe.ts";
export * from "./native/pagemap.ts";
