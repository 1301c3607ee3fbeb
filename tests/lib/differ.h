/*
 * differ.h - the differential check between the two readers of the media:
 * fsck.pmfs (run in-process, -n -f, on the image as it is) and the mount
 * (fs_mount_pmio on a copy of it, then the tree walk of treewalk.h).
 *
 * The rules (the reading issue's contract):
 *  (1) if fsck -n calls the image clean, the mount succeeds without a
 *      warning, the walk finds nothing, and the tree it shows is exactly
 *      the tree fsck modelled (paths, inode numbers, modes, link counts,
 *      sizes, xattr names);
 *  (2) if the mount goes through without a complaint (no error, no
 *      warning, nothing found by the walk), fsck found nothing to repair
 *      beyond the documented list below, and rule (1)'s tree comparison
 *      holds with fsck's model after those repairs.
 * The documented list: what a mount after a crash does as a matter of
 * course, which fsck -n reports because it changes nothing -
 *   journal-replay    an interrupted multi-inode operation (LOG(6))
 *   orphan-unlinked   an inode unlinked while open (reclaimed at mount)
 *   saved-free-space  the saved free-space map (rebuilt after a crash)
 *   saved-counts      the saved counts in sb_state (likewise)
 * and, on an image marked clean only, block ownership (block-shared,
 * log-shared): a clean mount trusts the saved allocator state, as ext4
 * and xfs trust their bitmaps, and a mount after a crash rebuilds it and
 * complains.  differ_check says which rule an image broke, and why.
 */
#ifndef PMFS_TESTS_DIFFER_H
#define PMFS_TESTS_DIFFER_H

#include <stdbool.h>
#include <stdint.h>

struct differ_result {
	int fsck_status;      /* fsck -n -f exit status */
	unsigned findings;    /* problems fsck reported */
	bool documented;      /* all of them on the documented list */
	int mount_err;        /* fs_mount_pmio's result */
	uint64_t warnings;    /* mount warnings */
	uint64_t walk_problems;
	bool complaint;       /* mount_err || warnings || walk_problems */
	bool compared;        /* the trees were compared */
	bool agree;           /* no rule broken */
	char why[512];        /* the broken rule, or "" */
};

/*
 * Check the image at path (left unchanged; the mount runs on a copy in
 * /dev/shm).  Returns 0 when the readers agree, -1 when a rule is broken
 * (res->why says which), -errno when the check itself could not run.
 */
int differ_check(const char *path, struct differ_result *res);

#endif /* PMFS_TESTS_DIFFER_H */
