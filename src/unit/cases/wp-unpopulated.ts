import type { UnitCase } from "../case.ts";

export const wpUnpopulatedCases: readonly UnitCase[] = [];
