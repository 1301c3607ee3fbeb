/*
 * fuzz_img.h - the images both libFuzzer targets (fuzz_fsck.c,
 * fuzz_mount.c) run on, so that they share one input format and one
 * corpus.
 *
 * A good image is made once (mkfs.pmfs from $PMFS_MKFS, default
 * build/mkfs.pmfs, then a small tree written through the fs API).  Each
 * input is a list of patches applied to a copy of it, so mutations land
 * on real structures instead of on an 8 MiB sea of zeros:
 *   byte 0        mode: bit 0 (FZ_REPAIR) the target's variant (fsck: -y
 *                 rather than -n); bit 1 (FZ_TRUNCATE) truncate the image
 *                 to (byte 1) * 32 KiB first; bit 2 (FZ_RESEAL) after
 *                 patching, recompute the checksums of the superblocks
 *                 and of every log page and entry of the good image
 *                 (found once with ilog_walk), so that damage to any
 *                 field of the superblock, journal, slots, pages and
 *                 entries reaches the semantic checks behind the
 *                 checksums
 *   then records  le16 block index (into the list of non-zero blocks of
 *                 the good image), le16 offset in the block, u8 length,
 *                 that many bytes
 * PMFS_FUZZ_SAVE=FILE writes the image an input makes, to run the tools
 * on it by hand.
 */
#ifndef PMFS_FUZZ_IMG_H
#define PMFS_FUZZ_IMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_IMG_SIZE (8u << 20)

#define FZ_REPAIR 1u
#define FZ_TRUNCATE 2u
#define FZ_RESEAL 4u

extern char fz_path[64];    /* the scratch image in /dev/shm */
extern const char *fz_name; /* the target, for messages */
extern uint8_t *fz_work;    /* the image the last input made */

/* Make the good image (once, from LLVMFuzzerInitialize); name names the
 * target in messages and in the scratch file's name. */
void fz_init(const char *name);

/* Build the image of input data[0..size) (size >= 1) at fz_path; its
 * length, the input's mode byte in *mode. */
size_t fz_build(const uint8_t *data, size_t size, uint8_t *mode);

/* Write fz_work[0..len) to fz_path. */
void fz_put(size_t len);

/* Whether fz_path still holds exactly fz_work[0..len). */
bool fz_unchanged(size_t len);

/* Report a failure of the target's own set-up and stop. */
void fz_die(const char *what) __attribute__((noreturn));

#endif /* PMFS_FUZZ_IMG_H */
