import type { UnitCase } from "../case.ts";

export const moveCases: readonly UnitCase[] = [];
