/*
 * check.c - one run of fsck.pmfs over a namespace, for main.c and the
 * fuzzer: open it (read-only without the device lock for -n, with a
 * warning first when someone holds the lock; with the lock otherwise, so
 * a mounted filesystem is never repaired), pass 1, the
 * clean fast path, passes 2..6, marking the filesystem clean after a
 * successful repair, the report (text or --json) and the exit status.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "fsck.h"
#include "pmemio/pmemio.h"

#ifndef PMFS_VERSION
#define PMFS_VERSION "0.1"
#endif

/* Print a JSON string (the characters fsck messages can contain). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* The findings and figures of the run as JSON (--json). */
static void report_json(const struct fsck *f, int status)
{
	printf("{\n  \"device\": ");
	json_str(f->o.dev);
	printf(",\n  \"mode\": \"%s\",\n  \"exit\": %d,\n  \"findings\": [",
	       f->o.mode == FSCK_MODE_NO	? "check"
	       : f->o.mode == FSCK_MODE_PREEN ? "preen"
					      : "repair",
	       status);
	for (size_t i = 0; i < f->nf; i++) {
		const struct fsck_finding *x = &f->f[i];

		printf("%s\n    {\"pass\": %d, \"code\": ", i ? "," : "",
		       x->pass);
		json_str(x->code);
		printf(", \"ino\": %" PRIu64 ", \"fixed\": %s, \"message\": ",
		       x->ino, x->fixed ? "true" : "false");
		json_str(x->msg);
		putchar('}');
	}
	printf("%s],\n  \"counts\": {\"found\": %u, \"fixed\": %u, "
	       "\"left\": %u},\n",
	       f->nf ? "\n  " : "", f->nfound, f->nfixed, f->nleft);
	printf("  \"figures\": {\"inodes\": %" PRIu64 ", \"files\": %" PRIu64
	       ", \"directories\": %" PRIu64 ", \"symlinks\": %" PRIu64
	       ", \"other\": %" PRIu64 ", \"log_pages\": %" PRIu64
	       ", \"data_blocks\": %" PRIu64 ", \"used_blocks\": %" PRIu64
	       ", \"free_blocks\": %" PRIu64
	       ", \"journals_replayed\": %" PRIu64 ", \"logs_cut\": %" PRIu64
	       ", \"inodes_cleared\": %" PRIu64 "},\n",
	       f->ninodes, f->nfiles, f->ndirs, f->nsymlinks, f->nother,
	       f->log_pages, f->data_blocks, f->used_blocks, f->free_blocks,
	       f->journals_replayed, f->logs_cut, f->inodes_cleared);
	printf("  \"modified\": %s\n}\n", f->changed ? "true" : "false");
}

/* The fsck(8) exit status of the run. */
static int exit_status(const struct fsck *f)
{
	int s = 0;

	if (f->nfixed)
		s |= FSCK_EXIT_FIXED;
	if (f->nleft)
		s |= FSCK_EXIT_UNCORRECTED;
	if (f->operr)
		s |= FSCK_EXIT_ERROR;
	if (fsck_cancel)
		s |= FSCK_EXIT_CANCELLED;
	return s;
}

/* The closing report: JSON, or the summary lines. */
static void finish(struct fsck *f, int status)
{
	if (f->o.quiet)
		return;
	if (f->o.json) {
		report_json(f, status);
		return;
	}
	if (fsck_cancel)
		printf("%s: check cancelled.\n", f->o.dev);
	if (f->dev_ok && !f->operr && !fsck_cancel)
		printf("%s: %" PRIu64 " inodes, %" PRIu64 "/%" PRIu64
		       " blocks used, %u problem%s found, %u fixed\n",
		       f->o.dev, f->ninodes, f->used_blocks,
		       f->used_blocks + f->free_blocks, f->nfound,
		       f->nfound == 1 ? "" : "s", f->nfixed);
	if (f->changed)
		printf("\n***** FILE SYSTEM WAS MODIFIED *****\n");
	if (f->nleft)
		printf("\n***** ERRORS LEFT UNCORRECTED *****\n");
}

/*
 * Between passes 2 and 3: the allocator of pass 4 on, all free but the
 * bad blocks (the table, if pass 1 left it valid, and the device's list),
 * so that pass 3 knows which inode-table blocks not to read.
 */
static int space_init(struct fsck *f)
{
	const struct pmfs_badblocks *bb =
		(const void *)(f->base + fmt_blk_off(PMFS_BADBLK_BLOCK));
	struct fmt_geometry g;

	ilog_geometry(&f->d, &g);
	f->owner = calloc(f->d.total_blocks, sizeof(*f->owner));
	if (!f->owner ||
	    alloc_create(f->p,
			 fmt_badblocks_check(bb, &g, NULL, 0) == 0 ? bb : NULL,
			 f->d.data_start, f->d.total_blocks, f->d.nlanes,
			 false, &f->a) != 0) {
		fsck_operr(f, "out of memory for %" PRIu64 " blocks",
			   f->d.total_blocks);
		return -1;
	}
	return 0;
}

/* Run passes 2..6 and mark the filesystem clean when all went well. */
static void check_all(struct fsck *f)
{
	int (*const pass[])(struct fsck *) = {
		fsck_pass2, space_init, fsck_pass3, fsck_pass4, fsck_pass5,
		fsck_pass6,
	};

	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		if (fsck_cancel || f->operr)
			return;
		if (pass[i](f) < 0)
			return;
	}
	if (f->a) { /* the figures after every repair */
		f->free_blocks = alloc_free_blocks(f->a);
		f->used_blocks = alloc_total_blocks(f->a) - f->free_blocks;
	}
	if (fsck_cancel || f->operr || f->rdonly || f->nleft)
		return;
	if (f->changed || !f->was_clean) {
		if (fsck_mark_clean(f) == 0)
			fsck_info(f, "Marked clean, free space stored.");
	}
}

/* The namespace cannot be opened: say why (also as JSON); exit 8. */
static int open_failed(const struct fsck *f, const char *why)
{
	if (!f->o.quiet)
		fprintf(stderr, "fsck.pmfs: %s\n", why);
	if (f->o.json) {
		printf("{\n  \"device\": ");
		json_str(f->o.dev);
		printf(",\n  \"exit\": %d,\n  \"error\": ", FSCK_EXIT_ERROR);
		json_str(why);
		printf("\n}\n");
	}
	return FSCK_EXIT_ERROR;
}

/*
 * -n on a device someone holds the lock of (mount.pmfs while mounted, or
 * a repairing fsck.pmfs): say so on the first line, as e2fsck does, since
 * the filesystem may change under the check.  The lock is probed the way
 * every holder takes it (pmio_open with PMIO_O_EXCL), and let go at once.
 */
static void warn_if_in_use(const struct fsck *f)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_RDONLY |
					 PMIO_O_EXCL };
	struct pmio *p;
	FILE *out = f->o.json ? stderr : stdout;
	int r;

	if (f->o.quiet)
		return;
	r = pmio_open(f->o.dev, &po, &p, NULL, 0);
	if (r == 0) {
		pmio_close(p);
		return;
	}
	if (r != -EBUSY)
		return; /* the open below reports it */
	fprintf(out,
		"fsck.pmfs: WARNING: %s is in use (mounted by mount.pmfs?): "
		"it may change while it is checked, so the results below are "
		"not reliable\n",
		f->o.dev);
	fflush(out);
}

/* A clean filesystem may be skipped: nothing found, journals idle. */
static bool skip_clean(const struct fsck *f)
{
	if (!f->was_clean || f->o.force || f->nfound)
		return false;
	for (unsigned l = 0; l < f->d.nlanes; l++)
		if (f->d.jnl[l].state != 0)
			return false;
	return true;
}

int fsck_run(struct fsck *f, const struct fsck_opts *o)
{
	struct pmio_opts po = { 0 };
	char err[256] = "";
	int r, status;

	memset(f, 0, sizeof(*f));
	f->tty = o->quiet ? 0 : -1;
	f->prog_pct = -1;
	f->o = *o;
	f->rdonly = f->o.mode == FSCK_MODE_NO;
	po.flags = PMIO_O_QUIET | (f->rdonly ? PMIO_O_RDONLY : PMIO_O_EXCL);
	if (f->rdonly)
		warn_if_in_use(f);
	r = pmio_open(f->o.dev, &po, &f->p, err, sizeof(err));
	if (r == -EBUSY && !f->rdonly) {
		snprintf(err, sizeof(err),
			 "%s is in use (mounted by mount.pmfs?); refusing to "
			 "repair it.  Unmount it first, or check it read-only "
			 "with -n.",
			 f->o.dev);
		return open_failed(f, err);
	}
	if (r) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s: %s", f->o.dev,
				 strerror(-r));
		return open_failed(f, err);
	}
	f->base = pmio_base(f->p);
	f->size = pmio_size(f->p);
	fsck_info(f, "fsck.pmfs %s: %s, %s, flush %s", PMFS_VERSION, f->o.dev,
		  pmio_gran_name(pmio_gran(f->p)), pmio_flush_path(f->p));

	if (fsck_pass1(f) == 0) {
		if (skip_clean(f)) {
			if (!f->o.json && !f->o.quiet)
				printf("%s: clean, %" PRIu64 " inodes, %" PRIu64
				       " free blocks\n",
				       f->o.dev, (uint64_t)f->d.state->used_inodes,
				       (uint64_t)f->d.state->free_blocks);
			if (!f->o.json)
				return FSCK_EXIT_OK;
		} else {
			check_all(f);
		}
	}
	status = exit_status(f);
	finish(f, status);
	return status;
}

void fsck_release(struct fsck *f)
{
	fsck_model_free(f);
	if (f->a)
		alloc_destroy(f->a);
	free(f->owner);
	free(f->f);
	free(f->virt);
	free(f->itdir_copy);
	if (f->p)
		pmio_close(f->p);
	memset(f, 0, sizeof(*f));
}

int fsck_check(const struct fsck_opts *o)
{
	struct fsck f;
	int status = fsck_run(&f, o);

	fsck_release(&f);
	return status;
}
