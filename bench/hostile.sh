#!/bin/bash
# The hostile-machine experiments of issue 14, as a table: experiment, runs,
# failures, leaks, settings left changed. Needs root and a hugetlb page size.
#   bench/hostile.sh [BINARY] [ROUNDS]     (default dist/uffd-suite, 5 rounds)
# Each experiment prints one row; the logs of a row that went wrong are kept
# in $WORK (printed at the end).
set -u
BIN=$(realpath "${1:-dist/uffd-suite}")
ROUNDS=${2:-5}
NR=/proc/sys/vm/nr_hugepages
WORK=$(mktemp -d /tmp/uffd-hostile.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT"
row() { printf '| %-44s | %4s | %8s | %5s | %16s |\n' "$@"; }
leftovers() { find /tmp -maxdepth 1 -name 'uffd-suite-cc-*' 2>/dev/null | wc -l; }
row experiment runs failures leaks "settings changed"
row -------------------------------------------- ---- -------- ----- ----------------

# Other processes on the machine that may take or change huge pages meanwhile: bun or uffd-suite
# processes (and their qemu-less children) whose working folder is not ours, sampled every 0.2 s
# while a round runs. A round they overlap is "shared" and counted apart.
watch_foreign() { # file: append what is seen until killed
  while :; do
    for pid in $(pgrep -f 'uffd-suite|bun'); do
      cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
      case "$cwd" in "$PWD"*) ;; *) { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -v 'qemu\|lava/matrix' | grep -q 'unit\|stress\|run\|test\|explore\|mutate' && echo "$pid $cwd" ;; esac
    done >>"$1"
    sleep 0.2
  done
}

# 1. two unit --mem hugetlb and a stress hugetlb 64 8 at once
fails=0 bad=0 changed=0 shared=0 sharedfails=0 sharedchanged=0 leaks0=$(leftovers)
for r in $(seq "$ROUNDS"); do
  before=$(cat $NR)
  : >"$WORK/foreign$r"
  watch_foreign "$WORK/foreign$r" & w=$!
  "$BIN" unit --mem hugetlb >"$WORK/a$r" 2>&1 & a=$!
  "$BIN" unit --mem hugetlb >"$WORK/b$r" 2>&1 & b=$!
  "$BIN" stress hugetlb 64 8 >"$WORK/c$r" 2>&1 & c=$!
  for p in $a $b $c; do wait $p; rc=$?; [ $rc -ne 0 ] && [ $rc -ne 4 ] && bad=$((bad + 1)); done
  kill $w; wait $w 2>/dev/null
  f=$(grep -h '^not ok' "$WORK/a$r" "$WORK/b$r" "$WORK/c$r" | wc -l)
  ch=0
  [ "$(cat $NR)" != "$before" ] && ch=1
  if [ -s "$WORK/foreign$r" ]; then
    shared=$((shared + 1)) sharedfails=$((sharedfails + f)) sharedchanged=$((sharedchanged + ch))
  else
    fails=$((fails + f)) changed=$((changed + ch))
    rm -f "$WORK/foreign$r"
  fi
  [ "$f" -eq 0 ] && rm -f "$WORK/a$r" "$WORK/b$r" "$WORK/c$r"
done
row "2 unit hugetlb + stress 64 8, quiet rounds" "$((ROUNDS - shared))" "$fails" "$(($(leftovers) - leaks0))" "$changed"
row "  rounds overlapping other runs on the machine" "$shared" "$sharedfails" "-" "$sharedchanged"

# 2. unusable state folders: the run must change nothing (or be safe), and say so
variant() { # name, then how to make $WORK/state
  local name=$1 before after seen rc
  rm -rf "$WORK/state" "$WORK/target"
  eval "$2"
  before=$(cat $NR)
  UFFD_SUITE_STATE_DIR=$WORK/state timeout -s KILL 60 "$BIN" unit --mem hugetlb -f events >"$WORK/sd-$name" 2>&1 &
  local p=$!
  # While it runs: did nr_hugepages move?
  seen=0
  for _ in $(seq 40); do sleep 0.05; [ "$(cat $NR)" != "$before" ] && seen=1; done
  wait $p; rc=$?
  after=$(cat $NR)
  # A run killed with SIGKILL in that folder: is nr_hugepages left raised?
  UFFD_SUITE_STATE_DIR=$WORK/state "$BIN" unit --mem hugetlb >/dev/null 2>"$WORK/sk-$name" &
  p=$!
  for _ in $(seq 100); do sleep 0.02; [ "$(cat $NR)" != "$before" ] && break; done
  kill -KILL $p 2>/dev/null; wait $p 2>/dev/null
  sleep 0.3
  local killed=$(cat $NR)
  # (Other runs on the machine move nr_hugepages too: a change by a run of ours that did not say it
  # raised it is shown as "other".)
  grep -q 'nr_hugepages [0-9]* ->' "$WORK/sd-$name" || seen=0
  grep -q 'nr_hugepages [0-9]* ->' "$WORK/sk-$name" || [ "$killed" = "$before" ] || killed=other
  [ "$killed" != "$before" ] && [ "$killed" != other ] && echo "$before" >$NR
  [ "$after" != "$before" ] && echo "$before" >$NR
  umount "$WORK/state" 2>/dev/null
  local said=$(grep -c '^uffd-suite: .*state folder' "$WORK/sd-$name")
  row "state dir $name (changed unsafely/said)" 2 "$([ $rc -ne 0 ] && [ $rc -ne 4 ] && echo 1 || echo 0)" "-" "$seen/$said, killed:$([ "$killed" = other ] && echo other || { [ "$killed" != "$before" ] && echo 1 || echo 0; })"
}
variant world-writable 'mkdir -m 777 "$WORK/state"; chmod 777 "$WORK/state"'
variant file 'echo x >"$WORK/state"'
variant symlink 'mkdir -m 700 "$WORK/target"; ln -s "$WORK/target" "$WORK/state"'
variant read-only 'mkdir -m 700 "$WORK/state"; mount --bind "$WORK/state" "$WORK/state"; mount -o remount,bind,ro "$WORK/state"'
variant other-owner 'mkdir -m 700 "$WORK/state"; chown nobody "$WORK/state"'

# 3. unit | head -1
t0=$(date +%s.%N)
"$BIN" unit 2>"$WORK/head.err" | head -1 >/dev/null
rc=${PIPESTATUS[0]}
t=$(echo "$(date +%s.%N) - $t0" | bc)
row "unit | head -1: rc $rc in ${t:0:4} s, stderr lines" 1 "$([ "$rc" -eq 141 ] && echo 0 || echo 1)" "-" "$(wc -l <"$WORK/head.err") lines"

# 4. unit > /dev/full
"$BIN" unit -f wp-fork >/dev/full 2>"$WORK/full.err"
rc=$?
row "unit > /dev/full: rc $rc, stderr lines" 1 "-" "-" "$(wc -l <"$WORK/full.err") lines"

# 5. TMPDIR on a full 1 MiB tmpfs
mount -t tmpfs -o size=1m tmpfs "$MNT"
dd if=/dev/zero of="$MNT/fill" bs=64k 2>/dev/null
t0=$(date +%s.%N)
TMPDIR=$MNT "$BIN" unit >"$WORK/tmpdir.out" 2>"$WORK/tmpdir.err"
rc=$?
t=$(echo "$(date +%s.%N) - $t0" | bc)
umount "$MNT"
row "TMPDIR full: rc $rc, ${t:0:4} s; not ok" 1 "$(grep -c '^not ok' "$WORK/tmpdir.out")" "-" "$(wc -l <"$WORK/tmpdir.err") err lines"

# 6. argument sweep
sweep() { "$BIN" "$@" >/dev/null 2>"$WORK/arg.err"; local rc=$?; echo "rc $rc: $(head -c 100 "$WORK/arg.err" | head -1)"; }
long=$(head -c 120000 /dev/zero | tr '\0' a)
for args in "unit -l --mem anon --mem shmem" "unit -l -f wp -f move" "unit -l --format json --format junit" \
  "--version extra" "unit --timeout 1e-9 -f zeropage --mem anon" "unit --timeout 0.001 -f zeropage --mem anon"; do
  echo "  $args -> $(sweep $args)"
done
echo "  CONSOLA_LEVEL=abc unit -f zeropage --mem anon,shmem --no-setup -> $(CONSOLA_LEVEL=abc "$BIN" unit -f zeropage --mem anon,shmem --no-setup >/dev/null 2>"$WORK/arg.err"; echo "rc $?, $(grep -c '\[debug\]' "$WORK/arg.err") debug lines, $(grep -c 'CONSOLA_LEVEL' "$WORK/arg.err") warnings")"
echo "  unit --mem <120 KB> -> stderr $("$BIN" unit --mem "x$long" 2>&1 >/dev/null | wc -c) bytes"
umount "$MNT" 2>/dev/null
echo "kept logs: $WORK (remove when read)"
