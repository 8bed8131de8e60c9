// Test Worker: the native helpers from a second thread, which compiles its
// own copy of each unit. Posts what it saw.
import { ftruncate, memfdCreate } from "../../src/sys/fd.ts";
import { MAP, MFD, mmap, munmap, PAGE_SIZE } from "../../src/sys/mem.ts";
import { forkChild, nativeCompileTimes, probeSigbus, waitChild } from "../../src/sys/native.ts";
import { libc } from "../../src/sys/libc.ts";

declare const self: Worker;

self.onmessage = async () => {
  try {
    const fd = memfdCreate("native-worker", MFD.CLOEXEC);
    ftruncate(fd, PAGE_SIZE);
    const addr = mmap(2 * PAGE_SIZE, { flags: MAP.SHARED, fd });
    libc.close(fd);
    const probes = [probeSigbus(addr), probeSigbus(addr + PAGE_SIZE)];
    const status = await waitChild(forkChild("touch", { addr, len: 2 * PAGE_SIZE }), { timeoutMs: 5000 });
    munmap(addr, 2 * PAGE_SIZE);
    self.postMessage({ ok: true, probes, status, compiled: nativeCompileTimes().map((t) => t.name) });
  } catch (e) {
    self.postMessage({ ok: false, error: String(e) });
  }
};
