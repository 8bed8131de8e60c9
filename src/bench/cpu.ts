// CPU time of this whole process (every thread, as CLOCK_PROCESS_CPUTIME_ID,
// which the C reference reads). Next to wall time per fault it shows what the
// process itself spent, which other load on the machine inflates less.

export function processCpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}
