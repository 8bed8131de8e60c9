export * from "./arch.ts";
export * from "./errno.ts";
export * from "./fd.ts";
export * from "./mem.ts";
export * from "./native.ts";
