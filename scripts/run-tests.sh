#!/bin/sh
# run-tests.sh BUILD TEST... - run each Criterion test binary in turn with
# PMFS_BUILD=BUILD (where the suites find the tools), then print the
# number of test cases passed and failed over all of them, and add them to
# BUILD/test-summary (read by scripts/summary.sh).  Exits non-zero if any
# binary failed.
set -u
build=$1
shift
export PMFS_BUILD="$build"
# Criterion itself leaks a few bytes in some runs; pmfs code is not excused.
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail=0
for t in "$@"; do
	echo "== $t"
	if ! "$t" --jobs 2 >"$log" 2>&1; then
		fail=$((fail + 1))
		echo "FAILED: $t"
	fi
	cat "$log"
	# "[====] Synthesis: Tested: 5 | Passing: 5 | Failing: 0 | Crashing: 0"
	sed -n 's/.*Synthesis: Tested: *\([0-9]*\) | Passing: *\([0-9]*\) | Failing: *\([0-9]*\) | Crashing: *\([0-9]*\).*/\1 \2 \3 \4/p' \
		"$log" | tail -n 1 | {
		read -r tested passing failing crashing || {
			# a binary that printed no synthesis died before its end
			echo "$t 0 0 1" >>"$build/test-summary"
			exit 0
		}
		echo "$t $passing $((failing + crashing)) $tested" \
			>>"$build/test-summary"
	}
done
awk '{p += $2; f += $3} END {printf "unit suites: %d passed, %d failed\n", p, f}' \
	"$build/test-summary"
[ "$fail" -eq 0 ]
