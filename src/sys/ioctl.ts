// asm-generic ioctl number encoding: dir(2) | size(14) | type(8) | nr(8).

export const IOC_DIR = { NONE: 0, WRITE: 1, READ: 2, READWRITE: 3 } as const;

export function ioc(dir: number, type: number, nr: number, size: number): number {
  // >>> 0 keeps the result unsigned when dir sets bit 31.
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
