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

export const UNIT_CASES: readonly UnitCase[] = [
  ...apiCases,
  ...registerCases,
  ...zeropageCases,
  ...moveCases,
  ...wpForkCases,
  ...wpUnpopulatedCases,
  ...minorCases,
  ...sigbusCases,
  ...eventsCases,
  ...poisonCases,
  ...mmapChangingCases,
  // Ours alone (origin "suite").
  ...eventsUnmapCases,
  ...threadIdCases,
  ...exactAddressCases,
  ...wpAsyncCases,
  ...userModeOnlyCases,
  ...copyDontwakeCases,
  ...registerErrorsCases,
  ...closeWakesCases,
];
