import type { UnitCase } from "../case.ts";

export const mmapChangingCases: readonly UnitCase[] = [];
