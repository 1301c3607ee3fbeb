/*
 * fusefloor.c - the FUSE floor: the cheapest low-level FUSE daemon that lets
 * the benchmark workloads run correctly.  No FUSE filesystem built on
 * libfuse's request loop can answer faster, so "pmfs / floor" says how much
 * of the FUSE budget pmfs spends on its own work.
 *
 * What it keeps, and why (nothing more):
 *  - a namespace: (parent, name) -> inode in one hash table, and per
 *    directory a list of children.  Lookups must answer ENOENT for names
 *    never created (or O_CREAT|O_EXCL, tar and rm -rf stop working), and
 *    readdir must list the real children (or rm -rf does less work).
 *  - per inode: type, mode, link count and size.  File data is not stored:
 *    a write only moves the size, a read answers zeros from one static
 *    buffer.  fio needs the size to be right, nothing needs the bytes.
 * What it leaves to the kernel: open/flush/fsync/fallocate answer ENOSYS
 * (open with FUSE_CAP_NO_OPEN_SUPPORT), so the kernel stops sending them;
 * entries, negative entries and attributes are cached for a day; release
 * and forget are answered by libfuse's defaults.  Inode numbers are never
 * reused, so forget needs no bookkeeping.
 *
 * One mutex serialises the table; the work under it is a hash probe.
 *
 *   fusefloor MOUNTPOINT [-f] [-s] [-o fuse-options]
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLOOR_TIMEOUT 86400.0
#define FLOOR_ZERO_SIZE (1u << 20)

struct fnode {
	uint64_t ino;
	uint64_t parent;
	char *name;
	uint32_t mode;
	uint32_t nlink;
	uint64_t size;
	uint64_t hash;
	struct fnode *hnext;          /* hash chain */
	struct fnode *first, *next, *prev; /* children; siblings */
	uint64_t nchildren;
	struct timespec time;
};

struct floor {
	pthread_mutex_t lock;
	struct fnode **nodes; /* by inode number; NULL once removed */
	uint64_t nnodes, capnodes;
	struct fnode **htab;
	uint64_t hsize, hcount;
};

/* A snapshot of one directory taken at opendir. */
struct fdir {
	size_t n;
	struct {
		uint64_t ino;
		uint32_t mode;
		char *name;
	} *ent;
};

static struct floor F = { .lock = PTHREAD_MUTEX_INITIALIZER };
static const char zeros[FLOOR_ZERO_SIZE];

static uint64_t name_hash(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (parent * 0x9e3779b97f4a7c15ull);

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h;
}

static struct fnode *node_get(uint64_t ino)
{
	return ino < F.nnodes ? F.nodes[ino] : NULL;
}

static struct fnode *name_find(uint64_t parent, const char *name)
{
	uint64_t h = name_hash(parent, name);
	struct fnode *n;

	for (n = F.htab[h & (F.hsize - 1)]; n; n = n->hnext)
		if (n->hash == h && n->parent == parent &&
		    strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static int htab_grow(void)
{
	uint64_t nsize = F.hsize ? F.hsize * 2 : 4096, i;
	struct fnode **nt = calloc(nsize, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (i = 0; i < F.hsize; i++) {
		struct fnode *n = F.htab[i], *nx;

		for (; n; n = nx) {
			nx = n->hnext;
			n->hnext = nt[n->hash & (nsize - 1)];
			nt[n->hash & (nsize - 1)] = n;
		}
	}
	free(F.htab);
	F.htab = nt;
	F.hsize = nsize;
	return 0;
}

/* Put n under (parent, name): hash table and the parent's child list. */
static void name_link(struct fnode *dir, struct fnode *n, char *name)
{
	n->parent = dir->ino;
	n->name = name;
	n->hash = name_hash(dir->ino, name);
	n->hnext = F.htab[n->hash & (F.hsize - 1)];
	F.htab[n->hash & (F.hsize - 1)] = n;
	n->prev = NULL;
	n->next = dir->first;
	if (dir->first)
		dir->first->prev = n;
	dir->first = n;
	dir->nchildren++;
	F.hcount++;
}

static void name_unlink(struct fnode *n)
{
	struct fnode **pp = &F.htab[n->hash & (F.hsize - 1)];
	struct fnode *dir = node_get(n->parent);

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	if (n->prev)
		n->prev->next = n->next;
	else
		dir->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	dir->nchildren--;
	F.hcount--;
	free(n->name);
	n->name = NULL;
}

static struct fnode *node_new(uint32_t mode)
{
	struct fnode *n;

	if (F.nnodes == F.capnodes) {
		uint64_t ncap = F.capnodes ? F.capnodes * 2 : 4096;
		struct fnode **nn = realloc(F.nodes, ncap * sizeof(*nn));

		if (!nn)
			return NULL;
		F.nodes = nn;
		F.capnodes = ncap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->ino = F.nnodes;
	n->mode = mode;
	n->nlink = S_ISDIR(mode) ? 2 : 1;
	clock_gettime(CLOCK_REALTIME, &n->time);
	F.nodes[F.nnodes++] = n;
	return n;
}

static void node_free(struct fnode *n)
{
	F.nodes[n->ino] = NULL;
	free(n);
}

static void fill_attr(const struct fnode *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_size = (off_t)n->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_atim = st->st_mtim = st->st_ctim = n->time;
}

static void fill_entry(const struct fnode *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	e->attr_timeout = FLOOR_TIMEOUT;
	e->entry_timeout = FLOOR_TIMEOUT;
	fill_attr(n, &e->attr);
}

/* Create a node named name in parent; 0 or -errno, *out the new node. */
static int do_new(fuse_ino_t parent, const char *name, uint32_t mode,
		  struct fnode **out)
{
	struct fnode *dir = node_get(parent), *n;
	char *nm;

	if (!dir || !S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (name_find(parent, name))
		return -EEXIST;
	if (F.hcount >= F.hsize && htab_grow() < 0)
		return -ENOMEM;
	nm = strdup(name);
	n = nm ? node_new(mode) : NULL;
	if (!n) {
		free(nm);
		return -ENOMEM;
	}
	name_link(dir, n, nm);
	if (S_ISDIR(mode))
		dir->nlink++;
	*out = n;
	return 0;
}

/* Remove name from parent; dir selects rmdir semantics. */
static int do_remove(fuse_ino_t parent, const char *name, int dir)
{
	struct fnode *n = name_find(parent, name);

	if (!n)
		return -ENOENT;
	if (dir && !S_ISDIR(n->mode))
		return -ENOTDIR;
	if (!dir && S_ISDIR(n->mode))
		return -EISDIR;
	if (dir && n->nchildren)
		return -ENOTEMPTY;
	if (dir)
		node_get(parent)->nlink--;
	name_unlink(n);
	node_free(n);
	return 0;
}

static int do_rename(fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		     const char *newname, unsigned flags)
{
	struct fnode *n = name_find(parent, name), *old;
	struct fnode *ndir = node_get(newparent);
	char *nm;
	int err;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	if (!n)
		return -ENOENT;
	if (!ndir || !S_ISDIR(ndir->mode))
		return -ENOTDIR;
	old = name_find(newparent, newname);
	if (old == n)
		return 0;
	if (old && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (old) {
		err = do_remove(newparent, newname, S_ISDIR(old->mode));
		if (err)
			return err;
	}
	nm = strdup(newname);
	if (!nm)
		return -ENOMEM;
	if (S_ISDIR(n->mode)) {
		node_get(parent)->nlink--;
		ndir->nlink++;
	}
	name_unlink(n);
	name_link(ndir, n, nm);
	return 0;
}

/* ---- request handlers: take the lock, call a helper, reply ------------- */

static void floor_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct fnode *n;

	pthread_mutex_lock(&F.lock);
	n = name_find(parent, name);
	if (n) {
		fill_entry(n, &e);
	} else {
		memset(&e, 0, sizeof(e)); /* cached negative entry */
		e.entry_timeout = FLOOR_TIMEOUT;
	}
	pthread_mutex_unlock(&F.lock);
	fuse_reply_entry(req, &e);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fnode *n;
	struct stat st;

	pthread_mutex_lock(&F.lock);
	n = node_get(ino);
	if (n)
		fill_attr(n, &st);
	pthread_mutex_unlock(&F.lock);
	if (!n)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, FLOOR_TIMEOUT);
}

static void floor_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct fnode *n;
	struct stat st;

	pthread_mutex_lock(&F.lock);
	n = node_get(ino);
	if (n) {
		if (to_set & FUSE_SET_ATTR_SIZE)
			n->size = (uint64_t)attr->st_size;
		if (to_set & FUSE_SET_ATTR_MODE)
			n->mode = (n->mode & S_IFMT) | (attr->st_mode & 07777);
		fill_attr(n, &st);
	}
	pthread_mutex_unlock(&F.lock);
	if (!n)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, FLOOR_TIMEOUT);
}

static void reply_new(fuse_req_t req, fuse_ino_t parent, const char *name,
		      uint32_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct fnode *n = NULL;
	int err;

	pthread_mutex_lock(&F.lock);
	err = do_new(parent, name, mode, &n);
	if (!err)
		fill_entry(n, &e);
	pthread_mutex_unlock(&F.lock);
	if (err)
		fuse_reply_err(req, -err);
	else if (fi)
		fuse_reply_create(req, &e, fi);
	else
		fuse_reply_entry(req, &e);
}

static void floor_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	if (!S_ISREG(mode))
		fuse_reply_err(req, EPERM);
	else
		reply_new(req, parent, name, mode, NULL);
}

static void floor_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	reply_new(req, parent, name, S_IFDIR | (mode & 07777), NULL);
}

static void floor_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	reply_new(req, parent, name, S_IFREG | (mode & 07777), fi);
}

static void reply_remove(fuse_req_t req, fuse_ino_t parent, const char *name,
			 int dir)
{
	int err;

	pthread_mutex_lock(&F.lock);
	err = do_remove(parent, name, dir);
	pthread_mutex_unlock(&F.lock);
	fuse_reply_err(req, -err);
}

static void floor_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_remove(req, parent, name, 0);
}

static void floor_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_remove(req, parent, name, 1);
}

static void floor_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	int err;

	pthread_mutex_lock(&F.lock);
	err = do_rename(parent, name, newparent, newname, flags);
	pthread_mutex_unlock(&F.lock);
	fuse_reply_err(req, -err);
}

static void floor_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, ENOSYS); /* with NO_OPEN_SUPPORT: never again */
}

static void floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fnode *n;
	uint64_t fsize = 0;
	size_t len = 0;

	pthread_mutex_lock(&F.lock);
	n = node_get(ino);
	if (n)
		fsize = n->size;
	pthread_mutex_unlock(&F.lock);
	if ((uint64_t)off < fsize)
		len = fsize - (uint64_t)off < size ? fsize - (uint64_t)off
						   : size;
	if (len > FLOOR_ZERO_SIZE)
		len = FLOOR_ZERO_SIZE;
	fuse_reply_buf(req, zeros, len);
}

static void floor_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fnode *n;

	pthread_mutex_lock(&F.lock);
	n = node_get(ino);
	if (n && (uint64_t)off + size > n->size)
		n->size = (uint64_t)off + size;
	pthread_mutex_unlock(&F.lock);
	if (!n)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_write(req, size);
}

static void floor_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fnode *dir, *c;
	struct fdir *d = calloc(1, sizeof(*d));
	int err = 0;

	pthread_mutex_lock(&F.lock);
	dir = node_get(ino);
	if (!d) {
		err = ENOMEM;
	} else if (!dir || !S_ISDIR(dir->mode)) {
		err = ENOTDIR;
	} else if (dir->nchildren) {
		d->ent = malloc(dir->nchildren * sizeof(*d->ent));
		if (!d->ent)
			err = ENOMEM;
		for (c = dir->first; !err && c; c = c->next) {
			d->ent[d->n].ino = c->ino;
			d->ent[d->n].mode = c->mode;
			d->ent[d->n].name = strdup(c->name);
			if (!d->ent[d->n++].name)
				err = ENOMEM;
		}
	}
	pthread_mutex_unlock(&F.lock);
	if (err) {
		while (d && d->n)
			free(d->ent[--d->n].name);
		if (d)
			free(d->ent);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	struct fdir *d = (struct fdir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0, i;
	struct stat st;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memset(&st, 0, sizeof(st));
	for (i = (size_t)off; i < d->n; i++) {
		size_t l;

		st.st_ino = d->ent[i].ino;
		st.st_mode = d->ent[i].mode;
		l = fuse_add_direntry(req, buf + used, size - used,
				      d->ent[i].name, &st, (off_t)(i + 1));
		if (l > size - used)
			break;
		used += l;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void floor_releasedir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct fdir *d = (struct fdir *)(uintptr_t)fi->fh;

	while (d->n)
		free(d->ent[--d->n].name);
	free(d->ent);
	free(d);
	fuse_reply_err(req, 0);
}

static void floor_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_blocks = sv.f_bfree = sv.f_bavail = 1ull << 28; /* 1 TiB */
	sv.f_files = sv.f_ffree = sv.f_favail = 1ull << 32;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops floor_ops = {
	.init = floor_init,
	.lookup = floor_lookup,
	.getattr = floor_getattr,
	.setattr = floor_setattr,
	.mknod = floor_mknod,
	.mkdir = floor_mkdir,
	.create = floor_create,
	.unlink = floor_unlink,
	.rmdir = floor_rmdir,
	.rename = floor_rename,
	.open = floor_open,
	.read = floor_read,
	.write = floor_write,
	.opendir = floor_opendir,
	.readdir = floor_readdir,
	.releasedir = floor_releasedir,
	.statfs = floor_statfs,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *cfg = NULL;
	struct fuse_session *se = NULL;
	struct fnode *root;
	int ret = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help || !opts.mountpoint) {
		printf("usage: %s MOUNTPOINT [-f] [-s] [-o options]\n",
		       argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = opts.show_help ? 0 : 1;
		goto out_args;
	}
	if (htab_grow() < 0 || !node_new(S_IFDIR) ||
	    !(root = node_new(S_IFDIR | 0755))) /* ino 0 unused, 1 = root */
		goto out_args;
	root->parent = 1;

	se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), NULL);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts.clone_fd);
		fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
		ret = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
