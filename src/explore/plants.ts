// Test-only plants (UFFD_SUITE_PLANT, comma list): each breaks one promise
// on the real side, as a kernel bug would, so a test can show explore finds
// and shrinks it. Never in help.
import { plantNames } from "../plants.ts";

export interface ExplorePlants {
  /** The handler resolves with DONTWAKE and then forgets the WAKE. */
  readonly skipWake: boolean;
  /** After a move (mremap) the uffd-wp bits are cleared behind the model's back. */
  readonly dropWpAfterMremap: boolean;
  /** COPY takes its source one page off. */
  readonly copyWrongPage: boolean;
}

export const PLANT_NAMES = {
  skipWake: "explore-skip-wake",
  dropWpAfterMremap: "explore-mremap-wp",
  copyWrongPage: "explore-copy-page",
} as const;

export function explorePlants(env: Record<string, string | undefined> = process.env): ExplorePlants {
  const names = new Set(plantNames(env));
  return {
    skipWake: names.has(PLANT_NAMES.skipWake),
    dropWpAfterMremap: names.has(PLANT_NAMES.dropWpAfterMremap),
    copyWrongPage: names.has(PLANT_NAMES.copyWrongPage),
  };
}
