import type { UnitCase } from "../case.ts";

export const eventsCases: readonly UnitCase[] = [];
