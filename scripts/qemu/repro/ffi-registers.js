// Does a bun:ffi call clobber values the JIT keeps in registers across it?
// Run with the compiled binary as Bun (BUN_BE_BUN=1 uffd-suite ffi-registers.js)
// or with bun. A hot loop keeps doubles, integers and an object live across
// FFI calls (a dlopen'ed libc function and a cc()-compiled one) and checks at
// the end that each holds exactly what plain arithmetic gives. Prints one
// line per variant and exits 1 on any difference.
import { cc, dlopen } from "bun:ffi";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const libc = dlopen(process.platform === "linux" ? "libc.so.6" : "libc.dylib", {
  getpid: { args: [], returns: "i32" },
  labs: { args: ["i64"], returns: "i64" },
});
const dir = mkdtempSync(join(tmpdir(), "ffi-regs-"));
writeFileSync(join(dir, "f.c"), "long long twice(long long x) { double d = (double)x * 0.5; return (long long)(d * 4.0); }\n");
let compiled = null;
try {
  compiled = cc({ source: join(dir, "f.c"), flags: ["-nostdlib"], symbols: { twice: { args: ["i64"], returns: "i64" } } });
} catch (e) {
  console.log(`# cc() unavailable here: ${e.message.split("\n")[0]}`);
}

function loop(call, n) {
  let a = 1.5, b = 0.25, i32 = 7, big = 0;
  const o = { x: 0, y: 0.5 };
  for (let i = 0; i < n; i++) {
    const r = call(i);
    a += 0.5;
    b += 0.125;
    i32 = (i32 * 3 + 1) & 0xffff;
    o.x += 1;
    o.y += 0.25;
    big += r === undefined ? 0 : Number(r) & 1;
  }
  return { a, b, i32, ox: o.x, oy: o.y, big };
}

function expected(n) {
  let i32 = 7;
  for (let i = 0; i < n; i++) i32 = (i32 * 3 + 1) & 0xffff;
  return { a: 1.5 + 0.5 * n, b: 0.25 + 0.125 * n, i32, ox: n, oy: 0.5 + 0.25 * n };
}

const n = Number(process.argv[2] ?? 200000);
const rounds = Number(process.argv[3] ?? 20);
const variants = {
  "plain JS": (i) => i & 1,
  "dlopen getpid": () => libc.symbols.getpid(),
  "dlopen labs(i64)": (i) => libc.symbols.labs(-i),
  ...(compiled ? { "cc() twice(i64)": (i) => compiled.symbols.twice(i) } : {}),
};
let bad = 0;
for (const [name, call] of Object.entries(variants)) {
  let wrong = 0;
  let first = "";
  const want = expected(n);
  for (let r = 0; r < rounds; r++) {
    const got = loop(call, n);
    for (const k of Object.keys(want)) {
      if (got[k] !== want[k]) {
        wrong++;
        if (!first) first = `${k}: ${got[k]} instead of ${want[k]} (round ${r})`;
      }
    }
  }
  bad += wrong;
  console.log(`${wrong === 0 ? "ok" : "CLOBBERED"} ${name}: ${rounds} x ${n} calls${first ? `; first: ${first}` : ""}`);
}
process.exit(bad === 0 ? 0 : 1);
