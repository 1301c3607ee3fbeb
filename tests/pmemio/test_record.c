/*
 * test_record.c - the recording backend of pmemio (src/pmemio/record.c):
 * a small persistence protocol recorded through the real pmio_open on a
 * /dev/shm image, its crash points walked and every image checked, plus
 * the pieces of the crash model one by one (unflushed stores, 8-byte
 * tearing, fence counts, fence 0, re-stored words, long recordings).  Most
 * tests run twice: with page dirty tracking and with full scans
 * (PMFS_REC_FULLSCAN=1).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmemio/pmemio.h"
#include "pmemio/pmio_int.h" /* pmio_rec_detach, as pmio_close calls it */
#include "testutil.h"

#define IMG_SIZE (256 * 1024)
#define PAYLOAD_OFF 4096 /* 256 bytes */
#define PAYLOAD_LEN 256
#define COMMIT_OFF 8192  /* 8-byte commit word, its own cache line */

static char *img;
static struct pmio *pm;
static uint8_t *base;

/* Fill a fresh image with a pattern, then open it recorded. */
static void rec_open(int fullscan)
{
	struct pmio_opts o = { PMIO_O_RECORD | PMIO_O_QUIET, 0 };
	char err[256];
	FILE *f;
	int rc;

	if (fullscan)
		setenv("PMFS_REC_FULLSCAN", "1", 1);
	else
		unsetenv("PMFS_REC_FULLSCAN");
	img = tu_tmpimg(IMG_SIZE);
	f = fopen(img, "r+");
	cr_assert(f);
	for (int i = 0; i < 64; i++)
		fputc(i * 3 + 1, f); /* non-zero content at fence 0 */
	fclose(f);
	rc = pmio_open(img, &o, &pm, err, sizeof(err));
	cr_assert_eq(rc, 0, "pmio_open: %d %s", rc, err);
	base = pmio_base(pm);
}

/* Fixture: recorded image with page dirty tracking. */
static void setup_track(void)
{
	rec_open(0);
}

/* Fixture: recorded image compared in full at every drain. */
static void setup_full(void)
{
	rec_open(1);
}

/* Close the mapping and remove its image. */
static void teardown(void)
{
	pmio_close(pm);
	pm = NULL;
	tu_rmimg(img);
	img = NULL;
}

/* The 8-byte word at byte offset off of an image. */
static uint64_t word_at(const void *imgp, uint64_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)imgp + off, 8);
	return v;
}

/* Byte i of the payload the protocols write. */
static uint8_t payload_byte(int i)
{
	return (uint8_t)(0xa0 ^ (i * 7));
}

/* 1 if img holds commit == 1 without the whole payload. */
static int inconsistent(const uint8_t *im)
{
	if (word_at(im, COMMIT_OFF) != 1)
		return 0;
	for (int i = 0; i < PAYLOAD_LEN; i++)
		if (im[PAYLOAD_OFF + i] != payload_byte(i))
			return 1;
	return 0;
}

/* Check one image; returns 1 if inconsistent. */
static int check_keep(struct pmio_rec_cursor *c, const uint8_t *keep,
		      uint8_t *buf)
{
	pmio_rec_cursor_image(c, keep, buf);
	return inconsistent(buf);
}

/*
 * Walk every crash point, check every in-flight subset when small, else
 * each word alone, all but each, all, none and a random sample.  Returns
 * the number of inconsistent images; *npoints gets the crash points.
 */
static uint64_t walk(uint64_t *npoints, uint64_t *nimages)
{
	struct pmio_rec_cursor *c;
	uint8_t *buf = malloc(pmio_size(pm));
	uint64_t bad = 0, pts = 0, imgs = 0;
	unsigned seed = 12345;

	cr_assert(buf);
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	while (pmio_rec_cursor_next(c)) {
		const struct pmio_rec_word *w;
		size_t n = pmio_rec_cursor_inflight(c, &w);
		uint8_t *keep = calloc(n + 1, 1);

		cr_assert(keep);
		cr_assert_eq(pmio_rec_cursor_fence(c), pts);
		pts++;
		if (n <= 12) {
			for (uint64_t m = 0; m < (1ULL << n); m++) {
				for (size_t i = 0; i < n; i++)
					keep[i] = (m >> i) & 1;
				bad += check_keep(c, keep, buf);
				imgs++;
			}
		} else {
			bad += check_keep(c, NULL, buf); /* none */
			memset(keep, 1, n);
			bad += check_keep(c, keep, buf); /* all */
			imgs += 2;
			for (size_t i = 0; i < n; i++) {
				memset(keep, 0, n);
				keep[i] = 1; /* each alone */
				bad += check_keep(c, keep, buf);
				memset(keep, 1, n);
				keep[i] = 0; /* all but each */
				bad += check_keep(c, keep, buf);
				imgs += 2;
			}
			for (int r = 0; r < 64; r++) {
				for (size_t i = 0; i < n; i++)
					keep[i] = rand_r(&seed) & 1;
				bad += check_keep(c, keep, buf);
				imgs++;
			}
		}
		free(keep);
	}
	pmio_rec_cursor_free(c);
	free(buf);
	*npoints = pts;
	if (nimages)
		*nimages = imgs;
	return bad;
}

/* Write the payload with plain stores. */
static void write_payload(void)
{
	for (int i = 0; i < PAYLOAD_LEN; i++)
		base[PAYLOAD_OFF + i] = payload_byte(i);
}

/* Payload, flush, fence, then the commit word and a fence. */
static void right_protocol(void)
{
	write_payload();
	pmio_flush(pm, base + PAYLOAD_OFF, PAYLOAD_LEN);
	pmio_drain(pm); /* ORDER: payload durable before commit */
	pmio_commit64(pm, (uint64_t *)(base + COMMIT_OFF), 1);
	pmio_drain(pm); /* ORDER: commit durable */
}

/* The commit word stored before the fence that orders the payload. */
static void wrong_protocol(void)
{
	write_payload();
	pmio_commit64(pm, (uint64_t *)(base + COMMIT_OFF), 1); /* too early */
	pmio_flush(pm, base + PAYLOAD_OFF, PAYLOAD_LEN);
	pmio_drain(pm);
}

/* The right protocol leaves no inconsistent image. */
static void t_right(void)
{
	uint64_t pts, imgs, bad;

	right_protocol();
	bad = walk(&pts, &imgs);
	cr_assert_eq(pts, 3);
	cr_assert_gt(imgs, 3);
	cr_assert_eq(bad, 0, "%llu inconsistent images",
		     (unsigned long long)bad);
	cr_assert_eq(pmio_rec_unflushed(pm, NULL), 0);
}

/* The wrong protocol leaves at least one inconsistent image. */
static void t_wrong(void)
{
	uint64_t pts, bad;

	wrong_protocol();
	bad = walk(&pts, NULL);
	cr_assert_eq(pts, 2);
	cr_assert_gt(bad, 0, "the wrong protocol went unnoticed");
}

Test(record, right_protocol_consistent, .init = setup_track,
     .fini = teardown)
{
	t_right();
}

Test(record, right_protocol_consistent_fullscan, .init = setup_full,
     .fini = teardown)
{
	t_right();
}

Test(record, wrong_protocol_caught, .init = setup_track, .fini = teardown)
{
	t_wrong();
}

Test(record, wrong_protocol_caught_fullscan, .init = setup_full,
     .fini = teardown)
{
	t_wrong();
}

/* Commit stored but payload never flushed: caught and reported unflushed. */
Test(record, missing_flush_caught, .init = setup_track, .fini = teardown)
{
	uint64_t pts, first;

	write_payload();
	pmio_drain(pm); /* orders nothing: the payload was not flushed */
	pmio_commit64(pm, (uint64_t *)(base + COMMIT_OFF), 1);
	pmio_drain(pm);
	cr_assert_gt(walk(&pts, NULL), 0);
	cr_assert_eq(pmio_rec_unflushed(pm, &first), PAYLOAD_LEN / 8);
	cr_assert_eq(first, PAYLOAD_OFF);
}

/* Stores never flushed are counted at each drain, first offset kept. */
static void t_unflushed(void)
{
	uint64_t first = 99;

	cr_assert_eq(pmio_rec_unflushed(pm, &first), 0);
	/* 5 words, the first at 40968, none flushed */
	for (int i = 0; i < 5; i++)
		((uint64_t *)(base + 40968))[i] = 0x1111 + i;
	/* a flushed one elsewhere does not count */
	pmio_store64(pm, (uint64_t *)(base + 100000), 7);
	pmio_flush(pm, base + 100000, 8);
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_unflushed(pm, &first), 5);
	cr_assert_eq(first, 40968);
	/* an unrelated later one on a lower offset keeps the first */
	((uint64_t *)base)[1] = 42;
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_unflushed(pm, &first), 6);
	cr_assert_eq(first, 40968);
	/* flushing them late makes them durable but does not add counts */
	pmio_flush(pm, base, IMG_SIZE);
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_unflushed(pm, NULL), 6);
	cr_assert_eq(pmio_rec_fences(pm), 3);
}

Test(record, unflushed_detection, .init = setup_track, .fini = teardown)
{
	t_unflushed();
}

Test(record, unflushed_detection_fullscan, .init = setup_full,
     .fini = teardown)
{
	t_unflushed();
}

/* A 64-byte copy in flight appears as 8 separate words. */
Test(record, tearing_at_8_bytes, .init = setup_track, .fini = teardown)
{
	struct pmio_rec_cursor *c;
	const struct pmio_rec_word *w;
	uint8_t src[64];
	uint64_t seen = 0;
	size_t n;

	for (int i = 0; i < 64; i++)
		src[i] = (uint8_t)(0xc0 + i);
	pmio_memcpy_nodrain(pm, base + 65536, src, 64);
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	cr_assert(pmio_rec_cursor_next(c));
	cr_assert_eq(pmio_rec_cursor_fence(c), 0);
	n = pmio_rec_cursor_inflight(c, &w);
	cr_assert_eq(n, 8);
	for (size_t i = 0; i < n; i++) {
		uint64_t k = (w[i].off - 65536) / 8;

		cr_assert_eq(w[i].off % 8, 0);
		cr_assert_lt(k, 8);
		cr_assert_eq(w[i].val, word_at(src, k * 8));
		seen |= 1ULL << k;
	}
	cr_assert_eq(seen, 0xff);
	/* after the fence all 8 are durable, nothing in flight */
	cr_assert(pmio_rec_cursor_next(c));
	cr_assert_eq(pmio_rec_cursor_inflight(c, NULL), 0);
	cr_assert_eq(memcmp((const uint8_t *)pmio_rec_cursor_durable(c) +
				    65536, src, 64), 0);
	cr_assert_not(pmio_rec_cursor_next(c));
	pmio_rec_cursor_free(c);
}

/* Crash points are fences + 1; fence 0 is the content at open. */
Test(record, points_and_fence0, .init = setup_track, .fini = teardown)
{
	struct pmio_rec_cursor *c;
	uint8_t *initial = malloc(IMG_SIZE);
	uint64_t pts = 0;

	cr_assert(initial);
	memcpy(initial, base, IMG_SIZE);
	cr_assert_eq(initial[5], 5 * 3 + 1);
	for (int i = 0; i < 10; i++) {
		pmio_commit64(pm, (uint64_t *)(base + 8 * i), 1000 + i);
		pmio_drain(pm);
	}
	base[200000] = 9; /* a tail store after the last fence */
	cr_assert_eq(pmio_rec_fences(pm), 10);
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	while (pmio_rec_cursor_next(c)) {
		const struct pmio_rec_word *w;
		size_t n = pmio_rec_cursor_inflight(c, &w);

		if (pts == 0)
			cr_assert_eq(memcmp(pmio_rec_cursor_durable(c),
					    initial, IMG_SIZE), 0);
		if (pts < 10) {
			cr_assert_eq(n, 1);
			cr_assert_eq(w[0].off, 8 * pts);
			cr_assert_eq(w[0].val, 1000 + pts);
		} else {
			cr_assert_eq(n, 1);
			cr_assert_eq(w[0].off, 200000);
		}
		pts++;
	}
	cr_assert_eq(pts, 11);
	pmio_rec_cursor_free(c);
	free(initial);
}

/* A cursor works on a recording with no fence at all. */
Test(record, no_fence, .init = setup_track, .fini = teardown)
{
	struct pmio_rec_cursor *c;
	uint8_t *out = malloc(IMG_SIZE);
	uint8_t keep = 1;

	cr_assert(out);
	base[16] = 0x77;
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	cr_assert(pmio_rec_cursor_next(c));
	cr_assert_eq(pmio_rec_cursor_inflight(c, NULL), 1);
	pmio_rec_cursor_image(c, NULL, out);
	cr_assert_eq(out[16], 16 * 3 + 1);
	pmio_rec_cursor_image(c, &keep, out);
	cr_assert_eq(out[16], 0x77);
	cr_assert_not(pmio_rec_cursor_next(c));
	pmio_rec_cursor_free(c);
	free(out);
}

/* A word flushed then re-stored: durable flushed, new value in flight. */
static void t_restore(void)
{
	struct pmio_rec_cursor *c;
	const struct pmio_rec_word *w;
	uint64_t *word = (uint64_t *)(base + 12288);
	uint64_t first;

	pmio_store64(pm, word, 1);
	pmio_flush(pm, word, 8);
	pmio_store64(pm, word, 2); /* re-stored, never flushed */
	pmio_drain(pm);
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_unflushed(pm, &first), 1);
	cr_assert_eq(first, 12288);
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	/* point 0: durable 0, the word in flight with 2 */
	cr_assert(pmio_rec_cursor_next(c));
	cr_assert_eq(word_at(pmio_rec_cursor_durable(c), 12288), 0);
	cr_assert_eq(pmio_rec_cursor_inflight(c, &w), 1);
	cr_assert_eq(w[0].off, 12288);
	cr_assert_eq(w[0].val, 2);
	/* points 1 and 2: durable at the flushed 1, 2 still in flight */
	for (int k = 1; k <= 2; k++) {
		cr_assert(pmio_rec_cursor_next(c));
		cr_assert_eq(pmio_rec_cursor_fence(c), (uint64_t)k);
		cr_assert_eq(word_at(pmio_rec_cursor_durable(c), 12288), 1);
		cr_assert_eq(pmio_rec_cursor_inflight(c, &w), 1);
		cr_assert_eq(w[0].val, 2);
	}
	cr_assert_not(pmio_rec_cursor_next(c));
	pmio_rec_cursor_free(c);
}

Test(record, flushed_then_restored, .init = setup_track, .fini = teardown)
{
	t_restore();
}

Test(record, flushed_then_restored_fullscan, .init = setup_full,
     .fini = teardown)
{
	t_restore();
}

/* A store flushed a fence late becomes durable at that later fence. */
Test(record, late_flush, .init = setup_track, .fini = teardown)
{
	struct pmio_rec_cursor *c;

	base[24] = 0xee;
	pmio_drain(pm);
	pmio_flush(pm, base + 24, 1);
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	cr_assert(pmio_rec_cursor_next(c));
	cr_assert_eq(pmio_rec_cursor_inflight(c, NULL), 1);
	cr_assert(pmio_rec_cursor_next(c));
	cr_assert_eq(((const uint8_t *)pmio_rec_cursor_durable(c))[24],
		     24 * 3 + 1);
	cr_assert_eq(pmio_rec_cursor_inflight(c, NULL), 1);
	cr_assert(pmio_rec_cursor_next(c));
	cr_assert_eq(((const uint8_t *)pmio_rec_cursor_durable(c))[24], 0xee);
	cr_assert_eq(pmio_rec_cursor_inflight(c, NULL), 0);
	cr_assert_not(pmio_rec_cursor_next(c));
	pmio_rec_cursor_free(c);
}

/* The cursor outlives pmio_close: it owns a copy of the recording. */
Test(record, cursor_outlives_close, .init = setup_track)
{
	struct pmio_rec_cursor *c;
	uint64_t n = 0;

	right_protocol();
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	pmio_close(pm);
	pm = NULL;
	while (pmio_rec_cursor_next(c))
		n++;
	cr_assert_eq(n, 3);
	cr_assert_eq(word_at(pmio_rec_cursor_durable(c), COMMIT_OFF), 1);
	pmio_rec_cursor_free(c);
	tu_rmimg(img);
	img = NULL;
}

/* 40000 fences: the cursor walks them all, the log protocol holds. */
static void t_many(void)
{
	struct pmio_rec_cursor *c;
	uint64_t *log = (uint64_t *)(base + 16384);
	uint64_t *tail = (uint64_t *)(base + COMMIT_OFF);
	uint64_t pts = 0, bad = 0;
	const int nops = 20000;

	/* a ring of log words and a tail, each update with 2 fences */
	for (int i = 0; i < nops; i++) {
		uint64_t *e = &log[i % 4096];

		pmio_store64(pm, e, (uint64_t)i + 1);
		pmio_flush(pm, e, 8);
		pmio_drain(pm); /* ORDER: entry before tail */
		pmio_commit64(pm, tail, (uint64_t)i + 1);
		pmio_drain(pm); /* ORDER: tail durable */
	}
	cr_assert_eq(pmio_rec_fences(pm), 2ULL * nops);
	cr_assert_eq(pmio_rec_cursor_new(pm, &c), 0);
	while (pmio_rec_cursor_next(c)) {
		const uint8_t *d = pmio_rec_cursor_durable(c);
		const struct pmio_rec_word *w;
		size_t n = pmio_rec_cursor_inflight(c, &w);
		uint64_t t = word_at(d, COMMIT_OFF);

		cr_assert_leq(n, 1);
		/* the entry the durable tail names is durable */
		if (t && word_at(d, 16384 + 8 * ((t - 1) % 4096)) != t)
			bad++;
		for (size_t i = 0; i < n; i++) /* an in-flight tail too */
			if (w[i].off == COMMIT_OFF &&
			    word_at(d, 16384 + 8 * ((w[i].val - 1) % 4096)) !=
				    w[i].val)
				bad++;
		pts++;
	}
	cr_assert_eq(pts, 2ULL * nops + 1);
	cr_assert_eq(bad, 0);
	pmio_rec_cursor_free(c);
}

Test(record, many_fences, .init = setup_track, .fini = teardown)
{
	t_many();
}

Test(record, many_fences_fullscan, .init = setup_full, .fini = teardown)
{
	t_many();
}

/* Stores from two mappings recorded at once stay apart. */
Test(record, two_recordings, .init = setup_track, .fini = teardown)
{
	struct pmio_opts o = { PMIO_O_RECORD | PMIO_O_QUIET, 0 };
	char *img2 = tu_tmpimg(65536);
	struct pmio *p2;
	uint8_t *b2;

	cr_assert_eq(pmio_open(img2, &o, &p2, NULL, 0), 0);
	b2 = pmio_base(p2);
	b2[800] = 1;
	base[800] = 2;
	pmio_drain(p2);
	cr_assert_eq(pmio_rec_unflushed(p2, NULL), 1);
	cr_assert_eq(pmio_rec_unflushed(pm, NULL), 0);
	pmio_close(p2);
	/* the first mapping is still tracked after the second closed */
	base[808] = 3;
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_unflushed(pm, NULL), 2);
	tu_rmimg(img2);
}

/* Without PMIO_O_RECORD the recording calls answer 0. */
Test(record, not_recording)
{
	struct pmio_opts o = { PMIO_O_QUIET, 0 };
	struct pmio_rec_cursor *c;
	char *path = tu_tmpimg(65536);
	struct pmio *p;

	cr_assert_eq(pmio_open(path, &o, &p, NULL, 0), 0);
	((uint8_t *)pmio_base(p))[0] = 1;
	pmio_drain(p);
	cr_assert_eq(pmio_rec_fences(p), 0);
	cr_assert_eq(pmio_rec_unflushed(p, NULL), 0);
	cr_assert_eq(pmio_rec_cursor_new(p, &c), -EINVAL);
	cr_assert_null(c);
	pmio_close(p);
	tu_rmimg(path);
}

/*
 * Permissions of the image's mapping pages [pg, pg+n) from
 * /proc/self/maps: 'w' if all are writable, 'r' if none is, '?' if mixed
 * or not found.
 */
static char map_perm(uint64_t pg, uint64_t n)
{
	uintptr_t lo = (uintptr_t)base + pg * 4096, hi = lo + n * 4096;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], res = 0;

	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perm[8];

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) != 3)
			continue;
		if (b <= lo || a >= hi)
			continue;
		if (!res)
			res = perm[1] == 'w' ? 'w' : 'r';
		else if (res != (perm[1] == 'w' ? 'w' : 'r'))
			res = '?';
	}
	fclose(f);
	return res ? res : '?';
}

/* Dirty tracking: pages stay protected until stored to, then reopen. */
Test(record, dirty_tracking_protects, .init = setup_track, .fini = teardown)
{
	cr_assert_eq(map_perm(0, IMG_SIZE / 4096), 'r');
	base[5 * 4096 + 8] = 1; /* faults once, page 5 opens */
	cr_assert_eq(map_perm(5, 1), 'w');
	cr_assert_eq(map_perm(0, 5), 'r');
	cr_assert_eq(map_perm(6, IMG_SIZE / 4096 - 6), 'r');
	pmio_drain(pm);
	cr_assert_eq(map_perm(0, IMG_SIZE / 4096), 'r');
	cr_assert_eq(pmio_rec_unflushed(pm, NULL), 1);
}

/* Full scans leave the mapping writable; detach reopens a tracked one. */
Test(record, fullscan_and_detach_writable, .init = setup_full)
{
	struct pmio_opts o = { PMIO_O_RECORD | PMIO_O_QUIET, 0 };

	cr_assert_eq(map_perm(0, IMG_SIZE / 4096), 'w');
	pmio_close(pm);
	unsetenv("PMFS_REC_FULLSCAN");
	cr_assert_eq(pmio_open(img, &o, &pm, NULL, 0), 0);
	base = pmio_base(pm);
	cr_assert_eq(map_perm(0, IMG_SIZE / 4096), 'r');
	pmio_rec_detach(pm); /* what pmio_close does first */
	cr_assert_eq(map_perm(0, IMG_SIZE / 4096), 'w');
	pmio_close(pm);
	pm = NULL;
	tu_rmimg(img);
	img = NULL;
}

/* Thread body: one plain store into the mapping. */
static void *store_thread(void *arg)
{
	((uint64_t *)arg)[0] = 0x5555;
	return NULL;
}

/* A store from another thread is seen too. */
Test(record, store_from_other_thread, .init = setup_track, .fini = teardown)
{
	pthread_t t;
	uint64_t first;

	cr_assert_eq(pthread_create(&t, NULL, store_thread, base + 131072), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	pmio_drain(pm);
	cr_assert_eq(pmio_rec_unflushed(pm, &first), 1);
	cr_assert_eq(first, 131072);
}

/*
 * A fault outside any recording still reaches the previous handler.  Not
 * under ASan: its handler would report the (intended) SEGV in the log.
 */
#ifndef __SANITIZE_ADDRESS__
Test(record, foreign_fault_still_fatal, .init = setup_track,
     .fini = teardown, .signal = SIGSEGV)
{
	volatile uint8_t *ro = mmap(NULL, 4096, PROT_READ,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert(ro != MAP_FAILED);
	tu_rmimg(img); /* .fini does not run after the signal */
	img = NULL;
	base[0] = 1; /* ours: handled */
	ro[0] = 1;   /* not ours: fatal */
	cr_assert_fail("the store to a read-only page went through");
}
#endif
