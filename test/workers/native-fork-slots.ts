// Counter slots shared by test/native.test.ts and native-fork-handler.ts.
export const SLOT = { READY: 0, FORKS: 1, SERVED: 2, ERRORS: 3 } as const;
export const SLOT_COUNT = 4;
