#!/bin/sh
# mkcases.sh [BUILD] - rewrite the expected outputs of the fsck corpus.
#
# The corrupted images are not stored: test_fsck.c makes each one from a
# fresh mkfs.pmfs image populated through the fs API, so they follow every
# format change.  What is stored is what fsck.pmfs answered:
# tests/fsck/cases/NAME/{expect.1,exit.1,expect.2,exit.2}.  After a change
# that alters the messages (new checks, other block numbers), run this,
# then read the diff of tests/fsck/cases before committing it: every
# first run must repair (exit 1, or 4 where nothing can be), every second
# run must find nothing (exit 0) - the suite asserts that part itself.
set -eu
build=${1:-build}
make BUILD="$build" tools "$build/tests/fsck/test_fsck"
PMFS_BUILD="$build" PMFS_FSCK_BLESS=1 "$build/tests/fsck/test_fsck" --jobs 2
git diff --stat -- tests/fsck/cases 2>/dev/null || true
