// Logging for humans, on stderr: stdout carries only results (TAP, reports).
// consola/basic keeps start-up light; CONSOLA_LEVEL sets the level (0 errors
// only ... 3 info, the default ... 5 trace).
import { createConsola } from "consola/basic";

export const log = createConsola({ stdout: process.stderr, stderr: process.stderr });
