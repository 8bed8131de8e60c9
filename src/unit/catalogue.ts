// The unit catalogue, in the C suite's order; cases of ours alone follow.
import type { UnitCase } from "./case.ts";
import { apiCases } from "./cases/api.ts";
import { eventsCases } from "./cases/events.ts";
import { minorCases } from "./cases/minor.ts";
import { mmapChangingCases } from "./cases/mmap-changing.ts";
import { moveCases } from "./cases/move.ts";
import { poisonCases } from "./cases/poison.ts";
import { registerCases } from "./cases/register.ts";
import { sigbusCases } from "./cases/sigbus.ts";
import { wpForkCases } from "./cases/wp-fork.ts";
import { wpUnpopulatedCases } from "./cases/wp-unpopulated.ts";
import { zeropageCases } from "./cases/zeropage.ts";
// Ours alone (origin "suite").
import { closeWakesCases } from "./cases/close-wakes.ts";
import { copyDontwakeCases } from "./cases/copy-dontwake.ts";
import { eventsUnmapCases } from "./cases/events-unmap.ts";
import { exactAddressCases } from "./cases/exact-address.ts";
import { registerErrorsCases } from "./cases/register-errors.ts";
import { threadIdCases } from "./cases/thread-id.ts";
import { userModeOnlyCases } from "./cases/user-mode-only.ts";
import { wpAsyncCases } from "./cases/wp-async.ts";

/** Each case list with the file that holds it (`uffd-suite unit -l` shows it: a KTAP name leads to its code). */
export const CATALOGUE_FILES: ReadonlyArray<readonly [string, readonly UnitCase[]]> = [
  ["src/unit/cases/api.ts", apiCases],
  ["src/unit/cases/register.ts", registerCases],
  ["src/unit/cases/zeropage.ts", zeropageCases],
  ["src/unit/cases/move.ts", moveCases],
  ["src/unit/cases/wp-fork.ts", wpForkCases],
  ["src/unit/cases/wp-unpopulated.ts", wpUnpopulatedCases],
  ["src/unit/cases/minor.ts", minorCases],
  ["src/unit/cases/sigbus.ts", sigbusCases],
  ["src/unit/cases/events.ts", eventsCases],
  ["src/unit/cases/poison.ts", poisonCases],
  ["src/unit/cases/mmap-changing.ts", mmapChangingCases],
  // Ours alone (origin "suite").
  ["src/unit/cases/events-unmap.ts", eventsUnmapCases],
  ["src/unit/cases/thread-id.ts", threadIdCases],
  ["src/unit/cases/exact-address.ts", exactAddressCases],
  ["src/unit/cases/wp-async.ts", wpAsyncCases],
  ["src/unit/cases/user-mode-only.ts", userModeOnlyCases],
  ["src/unit/cases/copy-dontwake.ts", copyDontwakeCases],
  ["src/unit/cases/register-errors.ts", registerErrorsCases],
  ["src/unit/cases/close-wakes.ts", closeWakesCases],
];

export const UNIT_CASES: readonly UnitCase[] = CATALOGUE_FILES.flatMap(([, list]) => list);
