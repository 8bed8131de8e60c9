import type { UnitCase } from "../case.ts";

export const minorCases: readonly UnitCase[] = [];
