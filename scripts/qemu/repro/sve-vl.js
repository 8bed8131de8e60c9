// Does Bun crash on arm64 when the SVE vector length is long? No uffd, no
// TinyCC: a main thread and Workers allocate, collect garbage and make FFI
// calls into libc for a while, then each checks its own arithmetic. Run it
// with the compiled binary as Bun (BUN_BE_BUN=1 uffd-suite sve-vl.js [secs])
// under qemu-system-aarch64 -cpu max, once with the kernel's default vector
// length and once after `echo 16 > /proc/sys/abi/sve_default_vector_length`.
// Prints the vector length it ran with and "ok" or the first wrong value.
import { dlopen } from "bun:ffi";
import { isMainThread, Worker, workerData, parentPort } from "node:worker_threads";

const secs = Number(isMainThread ? process.argv[2] ?? 20 : workerData.secs);
const libc = dlopen("libc.so.6", {
  getpid: { args: [], returns: "i32" },
  prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
});

function churn(tag) {
  const end = Date.now() + secs * 1000;
  let rounds = 0, sum = 0;
  const pid = libc.symbols.getpid();
  while (Date.now() < end) {
    const keep = [];
    for (let i = 0; i < 2000; i++) {
      keep.push({ i, s: `${tag}-${i}`, a: new Float64Array(8).fill(i * 0.5) });
      if (libc.symbols.getpid() !== pid) return `${tag}: getpid changed`;
    }
    for (const o of keep) sum += o.a[7] - o.i * 0.5 + (o.s === `${tag}-${o.i}` ? 0 : 1);
    if (sum !== 0) return `${tag}: round ${rounds} sum ${sum}`;
    if (++rounds % 50 === 0) Bun.gc(false);
  }
  return `${tag}: ok ${rounds} rounds`;
}

if (isMainThread) {
  const vl = libc.symbols.prctl(51 /* PR_SVE_GET_VL */, 0, 0, 0, 0);
  console.log(`# SVE vector length: ${vl < 0 ? "none" : (vl & 0xffff) + " bytes"}`);
  const workers = [0, 1, 2].map((n) => new Promise((resolve) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { secs, n } });
    w.on("message", resolve);
    w.on("error", (e) => resolve(`worker ${n}: ${e}`));
  }));
  const mine = churn("main");
  const all = [mine, ...(await Promise.all(workers))];
  console.log(all.join("\n"));
  process.exit(all.every((l) => l.includes(": ok")) ? 0 : 1);
} else {
  parentPort.postMessage(churn(`worker ${workerData.n}`));
}
