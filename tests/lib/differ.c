/*
 * differ.c - the differential check of the two readers (differ.h).
 */
#include "differ.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fsck/fsck.h"
#include "pmemio/pmemio.h"
#include "treewalk.h"

static const char *const documented[] = {
	"journal-replay",
	"orphan-unlinked",
	"saved-free-space",
	"saved-counts",
};

/* Findings a mount of an image marked clean does not look for: block
 * ownership (it trusts the saved allocator state, as ext4 and xfs trust
 * their bitmaps); a mount after a crash rebuilds it and complains. */
static const char *const trusted_clean[] = {
	"block-shared",
	"log-shared",
};

__attribute__((format(printf, 2, 3))) static int
broken(struct differ_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	res->agree = false;
	return -1;
}

static bool on_list(const char *code, bool clean)
{
	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		if (strcmp(code, documented[i]) == 0)
			return true;
	for (size_t i = 0; clean && i < sizeof(trusted_clean) /
						sizeof(trusted_clean[0]);
	     i++)
		if (strcmp(code, trusted_clean[i]) == 0)
			return true;
	return false;
}

/* Copy src to a new file in /dev/shm; its path in dst. */
static int copy_image(const char *src, char *dst, size_t dl)
{
	char buf[1 << 16];
	ssize_t n;
	int in, out, err = 0;

	snprintf(dst, dl, "/dev/shm/pmfs-differ-XXXXXX");
	out = mkstemp(dst);
	if (out < 0)
		return -errno;
	in = open(src, O_RDONLY);
	if (in < 0) {
		err = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			err = -EIO;
			break;
		}
	if (n < 0)
		err = -errno;
	close(in);
out:
	close(out);
	if (err)
		unlink(dst);
	return err;
}

/* ---- fsck's model as a list of nodes, in treewalk's terms --------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The xattr names of ip, sorted, NUL-separated, into *out (*len bytes). */
static char *model_xattrs(const struct fino *ip, size_t *len)
{
	const char **v = calloc(ip->nxa + 1, sizeof(*v));
	char *s;
	size_t n = 0;

	*len = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < ip->nxa; i++) {
		v[i] = ip->xa[i].name;
		n += ip->xa[i].nlen + 1u;
	}
	qsort(v, ip->nxa, sizeof(*v), cmp_str);
	s = calloc(1, n + 1);
	for (size_t i = 0; s && i < ip->nxa; i++) {
		memcpy(s + *len, v[i], strlen(v[i]) + 1);
		*len += strlen(v[i]) + 1;
	}
	free(v);
	return s;
}

/* Compare the model of one inode with the walk's node of it. */
static int compare_node(struct differ_result *res, const struct tw_node *n,
			const struct fino *ip)
{
	size_t xl;
	char *xs;
	int bad = 0;

	if (!n)
		return broken(res, "inode %" PRIu64 ": in fsck's model, not "
				   "reached by the mount",
			      ip->ino);
	if (n->mode != ip->mode || n->nlink != ip->nlink)
		return broken(res,
			      "%s (inode %" PRIu64 "): mount shows mode %o nlink "
			      "%u, fsck mode %o nlink %u",
			      n->path, n->ino, n->mode, n->nlink, ip->mode,
			      ip->nlink);
	if (!S_ISDIR(ip->mode) && n->size != ip->size)
		return broken(res,
			      "%s: mount shows size %" PRIu64 ", fsck %" PRIu64,
			      n->path, n->size, ip->size);
	xs = model_xattrs(ip, &xl);
	if (!xs || xl != n->xlen || memcmp(xs, n->xattrs, xl))
		bad = broken(res, "%s: xattr names differ", n->path);
	free(xs);
	return bad;
}

static int cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct fdent *)a)->name,
		      ((const struct fdent *)b)->name);
}

/* The entries of model directory dir against the walk's node of it. */
static int compare_dir(struct differ_result *res, const struct fino *dir,
		       const struct tw_node *n)
{
	struct fdent *v = malloc((dir->nde + 1) * sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	if (dir->nde) /* an empty directory may have no array */
		memcpy(v, dir->de, dir->nde * sizeof(*v));
	qsort(v, dir->nde, sizeof(*v), cmp_dent);
	if (n->nents != dir->nde)
		err = broken(res, "%s: the mount lists %zu names, fsck %zu",
			     n->path, n->nents, dir->nde);
	for (size_t i = 0; !err && i < dir->nde; i++)
		if (strcmp(v[i].name, n->ents[i].name) ||
		    v[i].ino != n->ents[i].ino)
			err = broken(res, "%s: name '%s' -> %" PRIu64
					  " in the mount, '%s' -> %" PRIu64
					  " in fsck's model",
				     n->path, n->ents[i].name, n->ents[i].ino,
				     v[i].name, v[i].ino);
	free(v);
	return err;
}

/* Every directory of fsck's model reached from the root, against the
 * walk: the same names naming the same inodes with the same attributes
 * (so the same inodes are reached); 0 or -1. */
static int compare_trees(struct differ_result *res, const struct fsck *f,
			 const struct tw_result *w)
{
	const struct fino *root = fsck_ino(f, PMFS_ROOT_INO);
	const struct fino **q;
	size_t nq = 0, head = 0, cap = w->nn + 1;
	int err;

	if (!root)
		return broken(res, "fsck's model has no root");
	q = malloc(cap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	q[nq++] = root;
	err = compare_node(res, tw_find_ino(w, root->ino), root);
	while (!err && head < nq) {
		const struct fino *d = q[head++];
		const struct tw_node *n = tw_find_ino(w, d->ino);

		err = compare_dir(res, d, n);
		for (size_t i = 0; !err && i < d->nde; i++) {
			const struct fino *t = fsck_ino(f, d->de[i].ino);

			if (!t) {
				err = broken(res, "%s/%s: fsck's model names a "
						  "free inode",
					     n->path, d->de[i].name);
				break;
			}
			err = compare_node(res, tw_find_ino(w, t->ino), t);
			if (!err && S_ISDIR(t->mode)) {
				if (nq == cap) { /* more dirs than nodes */
					err = broken(res, "fsck's model has "
							  "more directories "
							  "than the mount");
					break;
				}
				q[nq++] = t;
			}
		}
	}
	free(q);
	return err;
}

int differ_check(const char *path, struct differ_result *res)
{
	struct fsck_opts fo = { .mode = FSCK_MODE_NO, .force = true,
				.quiet = true, .dev = path };
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct fs_opts so = { .flags = FS_O_QUIET | FS_O_NOATIME | FS_O_ACL };
	struct fs_mount_info mi = { 0 };
	struct tw_result w = { 0 };
	struct fsck f;
	struct pmio *p = NULL;
	struct fs *fs = NULL;
	char copy[64], err[256];
	int rc = 0;

	memset(res, 0, sizeof(*res));
	res->agree = true;
	rc = copy_image(path, copy, sizeof(copy));
	if (rc)
		return rc;
	res->fsck_status = fsck_run(&f, &fo);
	res->findings = f.nfound;
	res->documented = true;
	for (size_t i = 0; i < f.nf; i++)
		if (!on_list(f.f[i].code, f.was_clean))
			res->documented = false;
	if (f.nf < f.nfound) /* findings list cut short: be strict */
		res->documented = false;

	res->mount_err = pmio_open(copy, &po, &p, err, sizeof(err));
	if (!res->mount_err)
		res->mount_err = fs_mount_pmio(p, &so, &fs, &mi, err,
					       sizeof(err));
	res->warnings = mi.warnings;
	if (!res->mount_err)
		res->walk_problems = tw_walk(fs, &w);
	res->complaint = res->mount_err || res->warnings || res->walk_problems;

	if (res->fsck_status == 0 && res->complaint) {
		rc = broken(res, "fsck -n calls the image clean, the mount "
				 "complains: %s",
			    res->mount_err ? err
			    : res->warnings ? "warnings at mount"
					    : w.first);
	} else if (!res->complaint && !res->documented) {
		for (size_t i = 0; i < f.nf; i++)
			if (!on_list(f.f[i].code, f.was_clean)) {
				rc = broken(res, "the mount accepts the image, "
						 "fsck -n finds %s: %s",
					    f.f[i].code, f.f[i].msg);
				break;
			}
		if (!rc)
			rc = broken(res, "the mount accepts the image, fsck -n "
					 "finds %u problems",
				    f.nfound);
	} else if (!res->complaint && (res->fsck_status & ~4) == 0) {
		res->compared = true;
		rc = compare_trees(res, &f, &w);
		if (rc == -ENOMEM) {
			res->agree = true;
			rc = -ENOMEM;
		}
	}
	tw_free(&w);
	if (fs)
		fs_unmount(fs);
	if (p)
		pmio_close(p);
	fsck_release(&f);
	unlink(copy);
	return rc;
}
