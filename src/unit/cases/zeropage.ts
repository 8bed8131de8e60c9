import type { UnitCase } from "../case.ts";

export const zeropageCases: readonly UnitCase[] = [];
