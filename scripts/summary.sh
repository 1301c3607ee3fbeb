#!/bin/sh
# summary.sh FILE... - the closing line of `make check`: test cases passed
# and failed over every stage that wrote a summary file.
cat "$@" 2>/dev/null | awk '{p += $2; f += $3} END {printf "%d passed, %d failed\n", p, f; exit f > 0}'
