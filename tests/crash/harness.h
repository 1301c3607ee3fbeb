/*
 * harness.h - the crash harness: run a workload on the core library over
 * the recording backend of pmemio (PMIO_O_RECORD), then for every fence
 * build the images a power cut could leave and check each one.
 *
 * One run of a workload:
 *   1. mkfs.pmfs makes a small image on /dev/shm (the built tool, found
 *      through PMFS_BUILD);
 *   2. setup (not recorded): mount it, build the starting tree, unmount
 *      cleanly; optionally a "pre" phase is recorded and the image is cut
 *      in the middle of its last operation, so the recorded phase starts
 *      with a recovery (a crash during recovery of an earlier crash);
 *   3. the recorded phase: mount (itself an operation: a crash during it
 *      must leave the starting state), then the workload's operations, each
 *      wrapped by CH_OP, which notes the fence count before and after it
 *      and snapshots the tree after it; optionally a clean unmount as the
 *      last operation;
 *   4. for every crash point k (a crash after fence k) the images: the
 *      durable state; durable + every word in flight; each in-flight word
 *      alone; all but each one; random subsets (8-byte words are atomic,
 *      larger stores tear at word boundaries: the recording is per word).
 *      Bounded runs sample the single / all-but-one subsets;
 *   5. each image is checked in one or more modes (ch_opts.modes):
 *      mount first: fs_mount_pmio (the recovery) must succeed; a walk of
 *        the whole tree (every directory listed and looked up, '..' right,
 *        every file read, every symlink and xattr read, link counts equal
 *        to the names found) must find nothing wrong; the tree must equal
 *        the snapshot after the last completed operation, or - if an
 *        operation was in progress - the snapshot before or after it,
 *        nothing in between; the inodes in use (statfs) must be exactly
 *        the ones the walk found (no orphan left, none lost);
 *        fsck.pmfs -n -f must exit 0 (when the tool is built); a further
 *        operation must work: create + write, clean unmount, mount, read
 *        back, same tree; last, every regular file grown by 5000 bytes
 *        must read zeros past its old size (bytes past EOF stay
 *        invisible).  Recovery runs on one thread at even crash points
 *        and on two (the parallel log scan) at odd ones;
 *      fsck -y first / fsck -p first: fsck.pmfs -y (or -p) on the raw
 *        crash image, before any mount, must exit 0 or 1 (a crash image
 *        is never "uncorrectable"); fsck.pmfs -f -n must then exit 0;
 *        then the mount and every check above (but fsck) as in mount
 *        first: what fsck repaired must be what recovery would give.
 *      The bounded fsck-first runs check a sample of each point's images
 *      (ch_opts.first_each, first_max); exhaustive runs check them all.
 * Before the mount, every raw image (mount mode) is also held to the
 * differential check of the two readers (tests/lib/differ.h): fsck -n
 * and the mount with its tree walk must agree about it.
 * A failing image is saved under /dev/shm with a line that replays it.
 *
 * Snapshots compare: path, inode number, type and mode, uid, gid, nlink,
 * size, blocks, rdev, mtime, ctime, contents (hashed), symlink target
 * (hashed when long), xattr names and values (hashed).  atime is compared
 * only in CH_W_RELATIME workloads; the other workloads mount with
 * FS_O_NOATIME, and the checks always do.
 *
 * Relatime (CH_W_RELATIME): setup ends with a walk, so that every atime is
 * newer than mtime and ctime when the recording starts.  The walk after
 * each operation is then a reader like any other: when the operation made
 * an inode due (a write, a chmod...), the walk's read of it updates its
 * atime (one ATTR entry, 2 fences); that update is recorded as an
 * operation of its own ("reads after ..."), whose state a second walk
 * takes.  An operation may make one inode due at most.
 *
 * Threads (CH_W_THREADS): the workload's threads each work in their own
 * subtree (a "track", ch_workload.tracks) and call ch_track() first; each
 * operation is snapshotted on its own track (the track's subtree only),
 * and a crash image must show, for every track independently, the state
 * after its last completed operation or before/after the one in progress,
 * and the rest of the tree as the operations of track 0 (the mount) left
 * it.  The recording then compares every page at each fence
 * (PMFS_REC_FULLSCAN): see ch_open_record in harness.c for why.
 */
#ifndef PMFS_TESTS_CRASH_HARNESS_H
#define PMFS_TESTS_CRASH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/fs.h"

struct ch_run;

/* ch_workload.flags */
#define CH_W_UNMOUNT 0x1  /* end the recorded phase with a clean unmount */
#define CH_W_REFCOUNT 0x2 /* mount with FS_O_REFCOUNT (lookup references
			   * as under FUSE: unlinked inodes live until
			   * fs_forget) */
#define CH_W_RELATIME 0x4 /* mount with relatime (not FS_O_NOATIME);
			   * snapshots compare atime */
#define CH_W_THREADS 0x8  /* run() starts threads, one per track */

#define CH_MAX_TRACKS 4

struct ch_workload {
	const char *name;
	const char *size; /* mkfs --size; NULL = "8M" */
	unsigned flags;
	/* unrecorded, on a clean mount; 0 or -errno */
	int (*setup)(struct ch_run *r, struct fs *fs);
	/* recorded, crashed after its last op's middle fence; then the
	 * recorded phase starts with recovery (may be NULL) */
	int (*pre)(struct ch_run *r, struct fs *fs);
	/* recorded; every mutating call wrapped in CH_OP */
	int (*run)(struct ch_run *r, struct fs *fs);
	/* CH_W_THREADS: the subtree of track 1, 2, ... (made by setup);
	 * NULL ends the list */
	const char *tracks[CH_MAX_TRACKS];
};

/* Check modes (ch_opts.modes, ch_result.*_mode[]). */
enum ch_mode {
	CH_MODE_MOUNT = 0,  /* recovery by mount, then fsck -n -f */
	CH_MODE_FSCK_Y = 1, /* fsck -y on the crash image, then mount */
	CH_MODE_FSCK_P = 2, /* fsck -p on the crash image, then mount */
	CH_NMODES
};
#define CH_M(mode) (1u << (mode))
#define CH_M_ALL (CH_M(CH_MODE_MOUNT) | CH_M(CH_MODE_FSCK_Y) |              \
		  CH_M(CH_MODE_FSCK_P))

/* "mount", "fsck-y", "fsck-p"; ch_mode_parse: -1 if unknown. */
const char *ch_mode_name(enum ch_mode m);
int ch_mode_parse(const char *s);

/* How hard to look. */
struct ch_opts {
	unsigned modes;         /* CH_M(...) bits */
	unsigned max_each;      /* single and all-but-one images per point */
	unsigned nrandom;       /* random subsets per point */
	unsigned max_images;    /* per workload (mount mode), 0 = no cap */
	/* fsck-first modes: the first first_each images of each point (in
	 * the order none, all, one random subset, the rest); at most
	 * first_max per workload and mode, spread over the points; 0 = no
	 * limit */
	unsigned first_each;
	unsigned first_max;
	bool fsck;              /* run fsck.pmfs -n -f when it is built */
	unsigned differ;        /* the differential check of mount and fsck
				 * (differ.h) on the raw image of every
				 * differ-th image in mount mode; 0 never */
	const char *seed;       /* pmemio seed spec (seed.h) or NULL */
	/* replay one image only: fence and subset spec, or fence < 0 */
	long long only_fence;
	const char *only_subset;
	unsigned max_report;    /* failures printed in full */
	bool quiet;             /* no per-failure lines */
	bool list_ops;          /* print the recorded operations */
};

struct ch_result {
	uint64_t fences;
	uint64_t points;
	uint64_t images;        /* all modes */
	uint64_t differ_images; /* raw images held to differ.h's contract */
	uint64_t failures;      /* all modes */
	uint64_t images_mode[CH_NMODES];
	uint64_t failures_mode[CH_NMODES];
	uint64_t ops;
	uint64_t unflushed;     /* stores seen at a drain without a flush */
	unsigned long seed_hits;
	bool was_clean;         /* the recorded mount found a clean image */
	uint64_t journals_replayed; /* ... and replayed these journals */
	bool fsck_used;         /* fsck.pmfs was run on the images */
	/* CH_W_THREADS: tracked operations whose fence range overlapped
	 * one of another track, and journal lanes that committed */
	uint64_t overlaps;
	unsigned lanes_used;
	int error;              /* the workload itself failed (not a crash
				 * image): -errno */
	char first[512];        /* the first failure, one line */
};

/* Bounded (make check) and exhaustive (make crashtest) settings; both
 * check in mount mode only until modes is changed. */
void ch_opts_bounded(struct ch_opts *o);
void ch_opts_exhaustive(struct ch_opts *o);

/*
 * Run workload w with options o; fills *res and prints
 * "crash: <name>: fences F, images I, failures X" on stderr.  Returns 0
 * if the workload ran (whatever the images showed), else -errno.
 */
int ch_run_workload(const struct ch_workload *w, const struct ch_opts *o,
		    struct ch_result *res);

/* ---- for workloads ------------------------------------------------------ */

extern const struct fs_ctx ch_ctx; /* uid/gid 1000 */

/* Call before a recorded operation (notes the fence count). */
void ch_begin(struct ch_run *r);
/* Call after it with its result and a short description: records the
 * fence count and snapshots the tree (the track's subtree on a track).
 * Returns rc (nonzero = the workload fails).  Thread-safe. */
int ch_end(struct ch_run *r, const char *what, int rc);
/* Wrap a mutating call: CH_OP(r, "unlink /a", fs_unlink(fs, 1, "a")); */
#define CH_OP(r, what, call)                                               \
	do {                                                                   \
		int ch_rc_;                                                    \
		ch_begin(r);                                                   \
		ch_rc_ = (call);                                               \
		if (ch_end((r), (what), ch_rc_))                               \
			return ch_rc_ < 0 ? ch_rc_ : -EIO;                     \
	} while (0)
/* CH_W_THREADS: the calling thread works on track t (1..) from now on. */
void ch_track(struct ch_run *r, unsigned t);

/* Inode of an absolute path ("/" = root); 0 if it does not resolve.
 * Keeps no lookup reference (each one it takes is forgotten). */
uint64_t ch_ino(struct fs *fs, const char *path);
/* Split "/a/b/c" into parent inode and last name (points into path). */
int ch_parent(struct fs *fs, const char *path, uint64_t *parent,
	      const char **name);
/* Convenience for setup code: create path as regular file with `len`
 * pattern bytes (pattern from `seed`); 0 or -errno. */
int ch_mkfile(struct fs *fs, const char *path, size_t len, unsigned seed);
int ch_mkdir(struct fs *fs, const char *path);
/* Fill buf with the pattern of seed, starting at file offset off. */
void ch_pattern(void *buf, size_t len, unsigned seed, uint64_t off);

/* ---- the workloads (workloads.c) ---------------------------------------- */

extern const struct ch_workload ch_workloads[];
extern const size_t ch_nworkloads;
const struct ch_workload *ch_find(const char *name);

#endif /* PMFS_TESTS_CRASH_HARNESS_H */
