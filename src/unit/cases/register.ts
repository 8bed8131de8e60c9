import type { UnitCase } from "../case.ts";

export const registerCases: readonly UnitCase[] = [];
