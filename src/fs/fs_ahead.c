/*
 * fs_ahead.c - the mapping made present ahead of the allocator.
 *
 * The first store to a page of the mapping that no one touched before
 * costs a page fault: on a sparse image file (the tests' /dev/shm images,
 * a plain image file) the kernel allocates and clears the page first, on
 * an fsdax file with MAP_SYNC it also commits the block allocation.  Log
 * pages and data blocks are mostly fresh blocks, so a create paid about
 * half its time in faults.  A background thread takes that work off the
 * operations: each lane's allocator hint says where its next blocks come
 * from (alloc_lane_hint), and the thread keeps the AHEAD_BLOCKS after it
 * populated (pmio_prefault, which stores nothing).  An operation notes
 * its lane after its commit (fs_ahead_note): one load and a compare, and
 * when the lane came within AHEAD_LOW of the populated end, its bit in
 * the thread's work mask and a wake-up.  Only lanes in use are populated,
 * each as far as AHEAD_BLOCKS past its hint: the memory (or, for a
 * sparse file, the space) it commits early is bounded by that.
 *
 * Runs while the mount is writable, beside the log GC (started and
 * stopped with it, fs_mount.c).  Nothing it does changes what is stored:
 * no crash point, no ordering.
 */
#include "fs/fs_int.h"

#include <stdlib.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"
#include "util/util.h"

#define AHEAD_BLOCKS 4096u /* 16 MiB per lane in use */
#define AHEAD_LOW (AHEAD_BLOCKS / 4 * 3)
#define AHEAD_STEP 256u /* populated per call: the mark moves in steps */

/* Populate what lane l will hand out next, up to AHEAD_BLOCKS past its
 * hint, a step at a time; a step the lane has already passed (its
 * operations faulted the pages in themselves) is skipped. */
static void ahead_lane(struct fs *fs, unsigned l)
{
	uint64_t hint, end, from, to;

	for (;;) {
		uint64_t mark = fs->ahead_mark[l];

		alloc_lane_hint(fs->a, l, &hint, &end);
		/* the hint went back (blocks freed below it): from there */
		from = mark > hint && mark <= hint + AHEAD_BLOCKS ? mark : hint;
		to = hint + AHEAD_BLOCKS < end ? hint + AHEAD_BLOCKS : end;
		if (to > from + AHEAD_STEP)
			to = from + AHEAD_STEP;
		if (to <= from || fs_writable(fs) != 0 ||
		    __atomic_load_n(&fs->ahead_stop, __ATOMIC_RELAXED))
			return;
		if (pmio_prefault(fs->d.p, fmt_blk_off(from),
				  fmt_blk_off(to - from)) != 0)
			return; /* not offered (old kernel), or a bad page */
		__atomic_fetch_add(&fs->ahead_blocks, to - from,
				   __ATOMIC_RELAXED);
		__atomic_store_n(&fs->ahead_mark[l], to, __ATOMIC_RELAXED);
	}
}

/* The thread: the windows of the lanes operations asked for, then sleep
 * until one asks again. */
static void *ahead_main(void *arg)
{
	struct fs *fs = arg;

	pthread_mutex_lock(&fs->ahead_mu);
	while (!fs->ahead_stop) {
		uint64_t want = fs->ahead_want;

		fs->ahead_want = 0;
		pthread_mutex_unlock(&fs->ahead_mu);
		for (unsigned l = 0; want; l++, want >>= 1)
			if (want & 1)
				ahead_lane(fs, l);
		pthread_mutex_lock(&fs->ahead_mu);
		while (!fs->ahead_stop && !fs->ahead_want)
			pthread_cond_wait(&fs->ahead_cv, &fs->ahead_mu);
	}
	pthread_mutex_unlock(&fs->ahead_mu);
	return NULL;
}

void fs_ahead_note(struct fs *fs, unsigned lane)
{
	uint64_t hint, end;

	if (!__atomic_load_n(&fs->ahead_running, __ATOMIC_ACQUIRE))
		return;
	lane %= alloc_nlanes(fs->a);
	alloc_lane_hint(fs->a, lane, &hint, &end);
	if (hint + AHEAD_LOW <=
		    __atomic_load_n(&fs->ahead_mark[lane], __ATOMIC_RELAXED) ||
	    hint >= end)
		return;
	pthread_mutex_lock(&fs->ahead_mu);
	if (!(fs->ahead_want & (1ull << lane))) {
		fs->ahead_want |= 1ull << lane;
		pthread_cond_signal(&fs->ahead_cv);
	}
	pthread_mutex_unlock(&fs->ahead_mu);
}

int fs_ahead_start(struct fs *fs)
{
	int err;

	pthread_mutex_lock(&fs->ahead_mu);
	__atomic_store_n(&fs->ahead_stop, false, __ATOMIC_RELAXED);
	fs->ahead_want = 0;
	pthread_mutex_unlock(&fs->ahead_mu);
	err = util_thread_start(&fs->ahead_thread, ahead_main, fs);
	if (err)
		return -err;
	__atomic_store_n(&fs->ahead_running, true, __ATOMIC_RELEASE);
	return 0;
}

void fs_ahead_stop(struct fs *fs)
{
	if (!__atomic_load_n(&fs->ahead_running, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&fs->ahead_running, false, __ATOMIC_RELEASE);
	pthread_mutex_lock(&fs->ahead_mu);
	__atomic_store_n(&fs->ahead_stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&fs->ahead_cv);
	pthread_mutex_unlock(&fs->ahead_mu);
	pthread_join(fs->ahead_thread, NULL);
}

uint64_t fs_ahead_blocks(struct fs *fs)
{
	return __atomic_load_n(&fs->ahead_blocks, __ATOMIC_RELAXED);
}
