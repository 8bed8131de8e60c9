// Bit sets over kernel masks that keep the bits we have no name for.
import { FEATURE_BITS, type FeatureName, IOCTL_NRS, type IoctlName } from "./constants.ts";

export class BitSet<N extends string> {
  readonly mask: bigint;
  readonly #names: Readonly<Record<N, number>>;

  constructor(mask: bigint, names: Readonly<Record<N, number>>) {
    this.mask = mask;
    this.#names = names;
  }

  has(name: N): boolean {
    return (this.mask & (1n << BigInt(this.#names[name]))) !== 0n;
  }

  /** Names of the set bits we know. */
  known(): N[] {
    return (Object.keys(this.#names) as N[]).filter((n) => this.has(n));
  }

  /** Names of the bits we know that are not set. */
  missing(names: readonly N[] = Object.keys(this.#names) as N[]): N[] {
    return names.filter((n) => !this.has(n));
  }

  /** Set bits with no name in our table (a newer kernel). */
  unknown(): bigint {
    let known = 0n;
    for (const bit of Object.values<number>(this.#names)) known |= 1n << BigInt(bit);
    return this.mask & ~known;
  }

  toString(): string {
    const parts: string[] = this.known();
    const rest = this.unknown();
    if (rest !== 0n) parts.push(`0x${rest.toString(16)}`);
    return parts.join("|") || "none";
  }
}

const FEATURE_BIT_OF = Object.fromEntries(FEATURE_BITS.map((n, i) => [n, i])) as Record<FeatureName, number>;

export class FeatureSet extends BitSet<FeatureName> {
  constructor(mask: bigint) {
    super(mask, FEATURE_BIT_OF);
  }

  static of(names: readonly FeatureName[]): FeatureSet {
    let m = 0n;
    for (const n of names) m |= 1n << BigInt(FEATURE_BIT_OF[n]);
    return new FeatureSet(m);
  }
}

export class IoctlSet extends BitSet<IoctlName> {
  constructor(mask: bigint) {
    super(mask, IOCTL_NRS);
  }
}

export function featureMask(names: readonly FeatureName[]): bigint {
  return FeatureSet.of(names).mask;
}
