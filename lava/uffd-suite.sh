#!/bin/sh
# uffd-suite under LAVA: run the binary (or read a KTAP log it wrote) and
# report every KTAP result as one LAVA test case whose id is a slug of the
# result's name alone. The id is the same whether the case passes, fails or
# skips; a skip reason, a failure's directive and its diagnostics go into the
# case's notes (its log between STARTTC and ENDTC, and output/<id>.log), never
# into the id. POSIX sh: the device may have nothing but busybox.
#
# Usage: uffd-suite.sh [-b BINARY] [-c COMMAND] [-o OUTPUT_DIR] [-i KTAP_LOG]
#   -b  the uffd-suite binary: a path or a name on PATH (default uffd-suite)
#   -c  its command line (default run): unit -f move, stress anon 20 16, ...
#   -o  where output/ktap.txt (what the binary printed), output/result.txt
#       (one "<id> <pass|fail|skip>" line a case, the Linaro test-definitions
#       result format) and output/<id>.log (notes) go (default ./output)
#   -i  read this KTAP log (plain, or nested by the kselftest runner) instead
#       of running the binary
# Standard output is the results again as TAP with the ids as names, bare
# "# SKIP" directives and the notes as "# " lines after each result, so
# Linaro's kselftest parsers (parse-output.py, or the older regex plus
# send-to-lava.sh) read the same ids from it. The exit code is 0 unless the
# usage is wrong (2): failures are test cases, as LAVA expects.

BINARY=uffd-suite
COMMAND=run
OUTPUT="$(pwd)/output"
INPUT=
CR="$(printf '\r')"

usage() {
	echo "$0: $1 (usage: $0 [-b BINARY] [-c COMMAND] [-o OUTPUT_DIR] [-i KTAP_LOG])" >&2
	exit 2
}

while getopts ":b:c:o:i:" opt; do
	case "$opt" in
	b) BINARY="$OPTARG" ;;
	c) COMMAND="$OPTARG" ;;
	o) OUTPUT="$OPTARG" ;;
	i) INPUT="$OPTARG" ;;
	:) usage "-$OPTARG needs a value" ;;
	*) usage "unknown option -$OPTARG" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage "unexpected argument $1"
[ -n "$BINARY" ] || usage "an empty -b"
[ -n "$COMMAND" ] || usage "an empty -c"
if [ -n "$INPUT" ] && [ ! -r "$INPUT" ]; then
	echo "$0: cannot read the KTAP log $INPUT" >&2
	exit 2
fi
mkdir -p "$OUTPUT" || exit 2
: >"$OUTPUT/result.txt"
: >"$OUTPUT/seen"
: >"$OUTPUT/pending"

if command -v lava-test-case >/dev/null 2>&1; then HAVE_LAVA=1; else HAVE_LAVA=0; fi

# A LAVA signal, on the console or (lava-signal: kmsg) in the kernel log,
# as Linaro's send-to-lava.sh sends them.
signal() {
	if [ -n "${KMSG:-}" ]; then echo "<0>$1" >/dev/kmsg; else echo "$1"; fi
}

# The id of a result name: [digits] groups dropped (as Linaro's slugify
# does), each run of characters other than letters, digits and '-' made one
# '_', a run of '-' and '_' holding a '_' made one '_', no '_' at either end.
# Linaro's slugify leaves such an id as it is, and LAVA takes it (no spaces).
slug() {
	s="$(printf '%s\n' "$1" | sed -e 's/\[[0-9]\{1,5\}\]//g' -e 's/[^A-Za-z0-9-][^A-Za-z0-9-]*/_/g' \
		-e 's/[-_]*_[-_]*/_/g' -e 's/^_//' -e 's/_$//')"
	[ -n "$s" ] || s=unknown
	# The same name twice in one stream (a program run twice under the
	# runner) gets _dup2, _dup3 ..., as parse-output.py names them.
	n="$(grep -c -x -F -e "$s" "$OUTPUT/seen")"
	echo "$s" >>"$OUTPUT/seen"
	if [ "$n" -gt 0 ]; then s="${s}_dup$((n + 1))"; fi
	printf '%s' "$s"
}

COUNT=0
# report ID RESULT: the TAP line, the result file, the notes, the LAVA case.
report() {
	COUNT=$((COUNT + 1))
	case "$2" in
	pass) echo "ok $COUNT $1" ;;
	fail) echo "not ok $COUNT $1" ;;
	skip) echo "ok $COUNT $1 # SKIP" ;;
	esac
	notes="$OUTPUT/$1.log"
	rm -f "$notes"
	if [ "$2" != pass ] && [ -s "$OUTPUT/pending" ]; then
		mv "$OUTPUT/pending" "$notes"
		sed -e 's/^/# /' "$notes"
	fi
	: >"$OUTPUT/pending"
	echo "$1 $2" >>"$OUTPUT/result.txt"
	if [ -s "$notes" ]; then
		signal "<LAVA_SIGNAL_STARTTC $1>"
		cat "$notes"
		signal "<LAVA_SIGNAL_ENDTC $1>"
	fi
	if [ "$HAVE_LAVA" = 1 ]; then
		lava-test-case "$1" --result "$2"
	else
		signal "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=$1 RESULT=$2>"
	fi
}

# One line of KTAP: a result is reported, anything else is kept as a note
# for the next result. Nesting (the kselftest runner's "# " before each line
# of a program, KTAP's indented subtests) is taken off first.
line() {
	l="${1%"$CR"}"
	while :; do
		case "$l" in
		"# "*) l="${l#"# "}" ;;
		" "* | "	"*) l="${l#?}" ;;
		*) break ;;
		esac
	done
	case "$l" in
	"ok "*) res=pass rest="${l#ok }" ;;
	"not ok "*) res=fail rest="${l#not ok }" ;;
	*)
		case "$l" in "" | "TAP version "* | "KTAP version "* | 1..*) ;; *) echo "$l" >>"$OUTPUT/pending" ;; esac
		return
		;;
	esac
	num="${rest%% *}"
	case "$num" in
	"" | *[!0-9]*)
		echo "$l" >>"$OUTPUT/pending"
		return
		;;
	esac
	rest="${rest#"$num"}"
	name="${rest%%#*}"
	directive=
	case "$rest" in *"#"*) directive="${rest#*#}" ;; esac
	directive="$(printf '%s' "$directive" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
	case "$directive" in
	[Ss][Kk][Ii][Pp] | [Ss][Kk][Ii][Pp][!A-Za-z]*)
		res=skip
		directive="$(printf '%s' "${directive#????}" | sed -e 's/^[[:space:]:]*//')"
		;;
	esac
	# The reason (skip) or directive (TIMEOUT 60 s, crashed: SIGSEGV) is
	# the last note, after the diagnostics printed before the result.
	[ -z "$directive" ] || echo "$directive" >>"$OUTPUT/pending"
	report "$(slug "$name")" "$res"
}

# The binary's own end as one more case, named after the command, as the
# kselftest runner adds one line a program: exit 0 passes, 4 (nothing ran)
# skips, anything else fails with the exit code (or signal) in its notes.
program_case() {
	code="$(cat "$OUTPUT/exit-code" 2>/dev/null)"
	# What the binary printed after its last result (a Bail out!) stays.
	case "$code" in
	0) res=pass ;;
	4) res=skip && echo "exit code 4: nothing ran" >>"$OUTPUT/pending" ;;
	127) res=fail && echo "$BINARY: not found or not executable (exit code 127)" >>"$OUTPUT/pending" ;;
	"") res=fail && echo "no exit code recorded" >>"$OUTPUT/pending" ;;
	*)
		res=fail
		if [ "$code" -gt 128 ]; then
			echo "exit code $code (signal $((code - 128)))" >>"$OUTPUT/pending"
		else
			echo "exit code $code" >>"$OUTPUT/pending"
		fi
		;;
	esac
	set -- $COMMAND
	report "$(slug "uffd-suite $1")" "$res"
}

echo "TAP version 13"
if [ -n "$INPUT" ]; then
	while IFS= read -r l || [ -n "$l" ]; do line "$l"; done <"$INPUT"
	cp "$INPUT" "$OUTPUT/ktap.txt" 2>/dev/null
else
	rm -f "$OUTPUT/exit-code"
	set -f # the command's words are not file patterns
	{
		# shellcheck disable=SC2086 # the command is split into words on purpose
		"$BINARY" $COMMAND
		echo $? >"$OUTPUT/exit-code"
	} | tee "$OUTPUT/ktap.txt" | {
		while IFS= read -r l || [ -n "$l" ]; do line "$l"; done
		echo "$COUNT" >"$OUTPUT/count"
	}
	set +f
	COUNT="$(cat "$OUTPUT/count")"
	program_case
fi
echo "1..$COUNT"
rm -f "$OUTPUT/seen" "$OUTPUT/pending" "$OUTPUT/count"
exit 0
