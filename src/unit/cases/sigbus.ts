import type { UnitCase } from "../case.ts";

export const sigbusCases: readonly UnitCase[] = [];
