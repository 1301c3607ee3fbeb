/*
 * test_crash_ops.c - crash images of every mutating operation alone, and
 * of some at their limits (bounded: make check), recovery by mount.  Each
 * test prints "crash: <workload>: fences F, images I, failures X".
 */
#include "crash_suite.h"

CRASH_TEST(ops, create, "create")
CRASH_TEST(ops, mknod, "mknod")
CRASH_TEST(ops, mkdir, "mkdir")
CRASH_TEST(ops, symlink, "symlink")
CRASH_TEST(ops, link, "link")
CRASH_TEST(ops, unlink_last, "unlink-last")
CRASH_TEST(ops, unlink_linked, "unlink-linked")
CRASH_TEST(ops, rmdir, "rmdir")
CRASH_TEST(ops, rename_same_dir, "rename-same-dir")
CRASH_TEST(ops, rename_across, "rename-across")
CRASH_TEST(ops, rename_over_file, "rename-over-file")
CRASH_TEST(ops, rename_over_dir, "rename-over-dir")
CRASH_TEST(ops, rename_noreplace, "rename-noreplace")
CRASH_TEST(ops, rename_exchange, "rename-exchange")
CRASH_TEST(ops, rename_exchange_dir, "rename-exchange-dir")
CRASH_TEST(ops, rename_whiteout, "rename-whiteout")
CRASH_TEST(ops, rename_dir, "rename-dir")
CRASH_TEST(ops, write_overwrite, "write-overwrite")
CRASH_TEST(ops, write_append, "write-append")
CRASH_TEST(ops, write_keep_times, "write-keep-times")
CRASH_TEST(ops, write_hole, "write-hole")
CRASH_TEST(ops, truncate_down, "truncate-down")
CRASH_TEST(ops, truncate_up, "truncate-up")
CRASH_TEST(ops, fallocate, "fallocate")
CRASH_TEST(ops, punch_hole, "punch-hole")
CRASH_TEST(ops, chmod, "chmod")
CRASH_TEST(ops, chown, "chown")
CRASH_TEST(ops, utimens, "utimens")
CRASH_TEST(ops, kill_suid, "kill-suid")
CRASH_TEST(ops, setxattr, "setxattr")
CRASH_TEST(ops, removexattr, "removexattr")
CRASH_TEST(ops, remount, "remount")
CRASH_TEST(ops, acl, "acl")

/* at the limits */
CRASH_TEST(ops, append_in_place, "append-in-place")
CRASH_TEST(ops, zero_range, "zero-range")
CRASH_TEST(ops, symlink_long, "symlink-long")
CRASH_TEST(ops, xattr_limits, "xattr-limits")
CRASH_TEST(ops, xattr_large, "xattr-large")
