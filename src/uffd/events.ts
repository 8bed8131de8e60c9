// uffd_msg decoding into a discriminated union.
import { EVENT, PAGEFAULT_FLAG } from "./constants.ts";
import { getU64 } from "../sys/u64.ts";
import { UFFD_MSG } from "./structs.ts";

export type PagefaultKind = "missing" | "wp" | "minor";

export type UffdEvent =
  | {
      readonly type: "pagefault";
      readonly kind: PagefaultKind;
      readonly write: boolean;
      readonly flags: number;
      readonly address: number;
      /** Thread id of the faulting thread (THREAD_ID feature), else 0. */
      readonly threadId: number;
    }
  | { readonly type: "fork"; readonly uffd: number }
  | { readonly type: "remap"; readonly from: number; readonly to: number; readonly len: number }
  | { readonly type: "remove"; readonly start: number; readonly end: number }
  | { readonly type: "unmap"; readonly start: number; readonly end: number };

export class UnknownEventError extends Error {
  override readonly name = "UnknownEventError";
  readonly code: number;
  constructor(code: number) {
    super(`unknown userfaultfd event code 0x${code.toString(16)}`);
    this.code = code;
  }
}

export function pagefaultKind(flags: number): PagefaultKind {
  if (flags & PAGEFAULT_FLAG.WP) return "wp";
  if (flags & PAGEFAULT_FLAG.MINOR) return "minor";
  return "missing";
}

/** Decode the message at byte `off` of `view`. */
export function decodeEvent(view: DataView, off = 0): UffdEvent {
  const o = UFFD_MSG.off;
  const code = view.getUint8(off + o.event);
  switch (code) {
    case EVENT.PAGEFAULT: {
      const flags = view.getUint32(off + o.flags, true);
      return {
        type: "pagefault",
        kind: pagefaultKind(flags),
        write: (flags & PAGEFAULT_FLAG.WRITE) !== 0,
        flags,
        address: getU64(view, off + o.address),
        threadId: view.getUint32(off + o.ptid, true),
      };
    }
    case EVENT.FORK:
      return { type: "fork", uffd: view.getUint32(off + o.ufd, true) };
    case EVENT.REMAP:
      return {
        type: "remap",
        from: getU64(view, off + o.from),
        to: getU64(view, off + o.to),
        len: getU64(view, off + o.len),
      };
    case EVENT.REMOVE:
    case EVENT.UNMAP:
      return {
        type: code === EVENT.REMOVE ? "remove" : "unmap",
        start: getU64(view, off + o.start),
        end: getU64(view, off + o.end),
      };
    default:
      throw new UnknownEventError(code);
  }
}
