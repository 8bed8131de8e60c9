// `bun test/support/deny-uffd.ts CMD...`: run CMD with the userfaultfd()
// system call refused with EPERM (a seccomp filter, as container runtimes
// install by default), its exit status passed on. Tests use it, under
// setpriv as nobody, for a machine where no userfaultfd can be had.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { arch } from "node:process";

const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO_EPERM = 0x00050000 | 1;

const target = arch === "arm64" ? { audit: 0xc00000b7, nr: 282 } : { audit: 0xc000003e, nr: 323 };

/** struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } */
function program(): Uint8Array {
  const ins: Array<[number, number, number, number]> = [
    [0x20, 0, 0, 4], //            ld  [arch]
    [0x15, 0, 3, target.audit], // jne arch -> allow
    [0x20, 0, 0, 0], //            ld  [nr]
    [0x15, 0, 1, target.nr], //    jne userfaultfd -> allow
    [0x06, 0, 0, RET_ERRNO_EPERM],
    [0x06, 0, 0, RET_ALLOW],
  ];
  const buf = new Uint8Array(new ArrayBuffer(ins.length * 8));
  const v = new DataView(buf.buffer);
  ins.forEach(([code, jt, jf, k], i) => {
    v.setUint16(i * 8, code, true);
    v.setUint8(i * 8 + 2, jt);
    v.setUint8(i * 8 + 3, jf);
    v.setUint32(i * 8 + 4, k, true);
  });
  return buf;
}

const libc = dlopen("libc.so.6", {
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
});

const filter = program();
const fprog = new Uint8Array(new ArrayBuffer(16));
const fv = new DataView(fprog.buffer);
fv.setUint16(0, filter.length / 8, true);
fv.setBigUint64(8, BigInt(ptr(filter)), true);
if (libc.symbols.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) throw new Error("PR_SET_NO_NEW_PRIVS failed");
if (libc.symbols.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, BigInt(ptr(fprog)), 0, 0) !== 0) throw new Error("PR_SET_SECCOMP failed");

const p = Bun.spawn(process.argv.slice(2), { stdio: ["inherit", "inherit", "inherit"] });
process.exitCode = await p.exited;
