/*
 * test_crash_seq.c - crash images of operation sequences (bounded: make
 * check), recovery by mount: the atomic replace pattern, many files in one
 * directory, log GC of a file (attributes, writes) and of a directory,
 * allocator reuse, journal reuse, deep renames and directory exchanges, a
 * crash during recovery of an earlier crash, a crash during clean
 * unmount, open files and directories removed (lookup reference
 * counting), atime updates (relatime), two threads committing at once.
 */
#include "crash_suite.h"

CRASH_TEST(seq, atomic_replace, "atomic-replace")
CRASH_TEST(seq, many_files, "many-files")
CRASH_TEST(seq, log_gc, "log-gc")
CRASH_TEST(seq, alloc_reuse, "alloc-reuse")
CRASH_TEST(seq, journal_wrap, "journal-wrap")
CRASH_TEST(seq, log_gc_writes, "log-gc-writes")
/* Fails while the GC writes a DENTRY_DEL named "." that fsck.pmfs calls
 * an invalid name (fsck -n -f exit 4 once the compaction commits). */
CRASH_TEST(seq, gc_dir, "gc-dir")
CRASH_TEST(seq, rename_deep, "rename-deep")
CRASH_TEST(seq, refcount_unlink, "refcount-unlink")
CRASH_TEST(seq, refcount_rmdir, "refcount-rmdir")
CRASH_TEST(seq, relatime, "relatime")

/* The recorded phase must start with a real recovery, or the workload
 * tests nothing about a crash during recovery. */
static void recovery(const char *name)
{
	struct ch_result res;

	cs_run(name, NULL, &res);
	cr_assert(!res.was_clean, "%s: the pre-crash image was clean", name);
	cr_assert_gt(res.journals_replayed, 0,
		     "%s: the recorded mount replayed no journal", name);
	cr_assert_eq(res.failures, 0,
		     "%s: %" PRIu64 " of %" PRIu64 " crash images failed; "
		     "first: %s", name, res.failures, res.images, res.first);
}

Test(seq, recovery_crash, .timeout = 600)
{
	recovery("recovery-crash");
}

Test(seq, recovery_crash_2, .timeout = 600)
{
	recovery("recovery-crash-2");
}
CRASH_TEST(seq, unmount_crash, "unmount-crash")

/* Two threads on two tracks: their operations must have overlapped, on
 * more than one journal lane, or the workload tests nothing between
 * lanes (LOG(7)). */
Test(seq, lanes, .timeout = 600)
{
	struct ch_result res;

	cs_run("lanes", NULL, &res);
	cr_assert_gt(res.overlaps, 0, "lanes: no two operations overlapped");
	cr_assert_geq(res.lanes_used, 2, "lanes: %u journal lane committed",
		      res.lanes_used);
	cr_assert_eq(res.failures, 0,
		     "lanes: %" PRIu64 " of %" PRIu64 " crash images failed; "
		     "first: %s", res.failures, res.images, res.first);
}
