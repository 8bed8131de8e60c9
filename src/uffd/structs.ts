// Struct layouts, declared once. All uffdio_* structs are sequences of 64-bit
// fields; offsets follow from field order. ioctl numbers are derived from the
// asm-generic _IOC encoding (sys/ioctl.ts) and these sizes.
import { IOC_DIR, ioc } from "../sys/ioctl.ts";
import { IOCTL_NRS, UFFD_API } from "./constants.ts";

type Layout<F extends string> = { readonly size: number; readonly off: Readonly<Record<F, number>> };

function u64Struct<F extends string>(...fields: F[]): Layout<F> {
  const off = Object.fromEntries(fields.map((f, i) => [f, i * 8])) as Record<F, number>;
  return { size: fields.length * 8, off };
}

/** Byte layouts of the userfaultfd structs. `range` structs are inlined as start/len. */
export const STRUCTS = {
  uffdio_api: u64Struct("api", "features", "ioctls"),
  uffdio_range: u64Struct("start", "len"),
  uffdio_register: u64Struct("start", "len", "mode", "ioctls"),
  uffdio_copy: u64Struct("dst", "src", "len", "mode", "copy"),
  uffdio_zeropage: u64Struct("start", "len", "mode", "zeropage"),
  uffdio_writeprotect: u64Struct("start", "len", "mode"),
  uffdio_continue: u64Struct("start", "len", "mode", "mapped"),
  uffdio_poison: u64Struct("start", "len", "mode", "updated"),
  uffdio_move: u64Struct("dst", "src", "len", "mode", "move"),
} as const;

/** struct uffd_msg: 32 bytes, packed. */
export const UFFD_MSG = {
  size: 32,
  off: {
    event: 0, // u8
    // pagefault
    flags: 8,
    address: 16,
    ptid: 24, // u64, u64, u32
    // fork
    ufd: 8, // u32
    // remap
    from: 8,
    to: 16,
    len: 24,
    // remove / unmap
    start: 8,
    end: 16,
  },
} as const;

const IOWR = (nr: number, size: number) => ioc(IOC_DIR.READWRITE, UFFD_API, nr, size);
const IOR = (nr: number, size: number) => ioc(IOC_DIR.READ, UFFD_API, nr, size);

export const IOCTL = {
  API: IOWR(IOCTL_NRS.API, STRUCTS.uffdio_api.size),
  REGISTER: IOWR(IOCTL_NRS.REGISTER, STRUCTS.uffdio_register.size),
  UNREGISTER: IOR(IOCTL_NRS.UNREGISTER, STRUCTS.uffdio_range.size),
  WAKE: IOR(IOCTL_NRS.WAKE, STRUCTS.uffdio_range.size),
  COPY: IOWR(IOCTL_NRS.COPY, STRUCTS.uffdio_copy.size),
  ZEROPAGE: IOWR(IOCTL_NRS.ZEROPAGE, STRUCTS.uffdio_zeropage.size),
  MOVE: IOWR(IOCTL_NRS.MOVE, STRUCTS.uffdio_move.size),
  WRITEPROTECT: IOWR(IOCTL_NRS.WRITEPROTECT, STRUCTS.uffdio_writeprotect.size),
  CONTINUE: IOWR(IOCTL_NRS.CONTINUE, STRUCTS.uffdio_continue.size),
  POISON: IOWR(IOCTL_NRS.POISON, STRUCTS.uffdio_poison.size),
  /** /dev/userfaultfd: _IO(0xAA, 0x00), the argument is the open flags. */
  DEV_NEW: ioc(IOC_DIR.NONE, UFFD_API, 0x00, 0),
} as const;
