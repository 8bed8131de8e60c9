export * from "./bits.ts";
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./structs.ts";
export * from "./uffd.ts";
