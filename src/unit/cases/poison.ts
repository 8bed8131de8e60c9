import type { UnitCase } from "../case.ts";

export const poisonCases: readonly UnitCase[] = [];
