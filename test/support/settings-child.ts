// A child process for test/settings-journal.test.ts: changes a setting the
// way a run does (SettingChange), then holds it, dies by SIGKILL, or puts
// back what an earlier run left. The state dir comes from UFFD_SUITE_STATE_DIR.
//   hold PATH VALUE   set, print "held", wait for a signal (which restores)
//   kill PATH VALUE   set, print "set", SIGKILL itself
//   hold-share PATH N add N to the count at PATH as this run's share, print "held", wait for a signal
//   kill-share PATH N add N as this run's share, print "set", SIGKILL itself
//   kill-hugepages    raise nr_hugepages by one, print "set", SIGKILL itself
//   recover           put back what an unfinished run left
import { hugepageState, reserveHugepages } from "../../src/machine/hugepages.ts";
import { SettingChange } from "../../src/machine/restore.ts";
import { handleSignals } from "../../src/machine/signals.ts";
import { recoverAbandonedSettings } from "../../src/machine/settings-journal.ts";

const [mode, path, value] = process.argv.slice(2);
switch (mode) {
  case "hold":
    handleSignals();
    SettingChange.set(path!, value!);
    process.stdout.write("held\n");
    setInterval(() => {}, 1000);
    break;
  case "kill":
    SettingChange.set(path!, value!);
    process.stdout.write("set\n");
    process.kill(process.pid, "SIGKILL");
    break;
  case "hold-share":
    handleSignals();
    SettingChange.add(path!, Number(value));
    process.stdout.write("held\n");
    setInterval(() => {}, 1000);
    break;
  case "kill-share":
    SettingChange.add(path!, Number(value));
    process.stdout.write("set\n");
    process.kill(process.pid, "SIGKILL");
    break;
  case "kill-hugepages":
    reserveHugepages(hugepageState().free + 1);
    process.stdout.write("set\n");
    process.kill(process.pid, "SIGKILL");
    break;
  case "recover":
    recoverAbandonedSettings();
    break;
  default:
    process.stderr.write(`settings-child: unknown mode ${mode}\n`);
    process.exit(2);
}
