// 64-bit little-endian struct fields read and written through a DataView,
// as plain numbers where they fit 53 bits (addresses, lengths).

const TWO32 = 2 ** 32;

/** Store a non-negative integer < 2^53 as u64, without BigInt. */
export function setU64(view: DataView, off: number, v: number): void {
  view.setUint32(off, v >>> 0, true);
  view.setUint32(off + 4, Math.floor(v / TWO32), true);
}

/** Load a u64 that is known to fit in 53 bits (addresses, lengths). */
export function getU64(view: DataView, off: number): number {
  return view.getUint32(off + 4, true) * TWO32 + view.getUint32(off, true);
}

/** Load a signed s64 (result fields: byte counts or -errno). */
export function getS64(view: DataView, off: number): number {
  return view.getInt32(off + 4, true) * TWO32 + view.getUint32(off, true);
}

/** Load a full u64 as BigInt (feature and ioctl masks; never on a hot path). */
export function getU64Big(view: DataView, off: number): bigint {
  return view.getBigUint64(off, true);
}
