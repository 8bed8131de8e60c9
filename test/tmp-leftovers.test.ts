// Nothing is left in the temp folder, whatever kills a case process: the
// run-time C helpers are compiled from a memfd, so no build folder exists to
// leak. Case processes of `unit -f sigbus` and `unit -f events` (both compile
// helpers in the case process and its Workers) are SIGKILLed at many moments
// of their lives; TMPDIR, a fresh folder of its own, must stay empty but for
// Bun's own header cache: cc() writes the C headers it bundles into
// $TMPDIR/bun-cc-<uid>/ once per user and reuses that folder (a fixed name,
// about 60 KB, never one per run; cc() works without it, on a read-only or
// missing TMPDIR too). Ours are compiled from a memfd and write nothing.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childEnv, fromSource } from "./support/binary.ts";
import { killMarked, marked, newMarker, untilEmpty } from "./support/system.ts";

const isRoot = process.getuid?.() === 0;
const root = mkdtempSync(join(tmpdir(), "uffd-leftovers-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Case processes of the run carrying `marker`: pids of `unit-case` commands. */
function caseProcesses(marker: { name: string; value: string }): number[] {
  return marked(marker)
    .filter((l) => l.includes(" unit-case ") && !/ Z /.test(l))
    .map((l) => Number(l.split(" ")[0]));
}

test.skipIf(!isRoot)(
  `case processes SIGKILLed at many moments leave nothing in TMPDIR${isRoot ? "" : " (needs root: the cases need a userfaultfd)"}`,
  async () => {
    const delays = [0, 15, 40, 80, 150, 250, 400, 700];
    let kills = 0;
    for (const [i, filter] of ["sigbus", "events"].entries()) {
      for (const delay of delays) {
        const tmp = mkdtempSync(join(root, `run-${i}-${delay}-`));
        const marker = newMarker();
        const p = Bun.spawn([...fromSource(), "unit", "-f", filter, "--mem", "anon,shmem", "--jobs", "1"], {
          env: childEnv({ TMPDIR: tmp, [marker.name]: marker.value }),
          stdout: "pipe",
          stderr: "pipe",
        });
        const out = new Response(p.stdout).text();
        const err = new Response(p.stderr).text();
        try {
          // Each time a new case process shows up, kill it `delay` ms later.
          const seen = new Set<number>();
          const end = performance.now() + 30_000;
          while (p.exitCode === null && performance.now() < end) {
            for (const pid of caseProcesses(marker)) {
              if (seen.has(pid)) continue;
              seen.add(pid);
              setTimeout(() => {
                try {
                  process.kill(pid, "SIGKILL");
                  kills++;
                } catch {
                  // already gone
                }
              }, delay);
            }
            await Bun.sleep(5);
          }
          await p.exited;
          await Promise.all([out, err]);
        } finally {
          killMarked(marker);
        }
        expect(await untilEmpty(() => marked(marker), 3000)).toEqual([]);
        const bunCache = `bun-cc-${process.getuid?.()}`;
        expect({ filter, delay, left: readdirSync(tmp).filter((n) => n !== bunCache) }).toEqual({ filter, delay, left: [] });
      }
    }
    // The kills really happened (else the test proves nothing).
    expect(kills).toBeGreaterThan(delays.length);
  },
  240_000,
);
