import type { UnitCase } from "../case.ts";

export const wpForkCases: readonly UnitCase[] = [];
