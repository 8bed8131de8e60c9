import type { UnitCase } from "../case.ts";

export const apiCases: readonly UnitCase[] = [];
