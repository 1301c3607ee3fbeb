/*
 * pmemio.c - the persistence layer proper: opening and mapping a namespace
 * through libpmem2, the flush/drain/store primitives every other module
 * uses, and the flush, fence and byte counters.
 *
 * Layers: pmio_open() checks the path (stat, then ident.c for devices:
 * sysfs + libndctl/libdaxctl), opens it, takes the device lock, maps it
 * with libpmem2 at the finest store granularity libpmem2 promises, reads
 * the bad-block list, and picks the flush path: BYTE (eADR) flushes
 * nothing and fences; CACHE_LINE runs the architecture's flush per line
 * (arch_*.c) and its drain; PAGE msyncs the page-aligned range and uses
 * the architecture's drain as the fence.  The flush and fence
 * instructions are always pmemio's own (arch.h), never libpmem2's.
 *
 * Test-only switch: PMIO_O_FORCE_CL, or the environment variable
 * PMFS_FORCE_CACHE_LINE=1, forces cache-line granularity on storage that
 * is not DAX (a tmpfs file), so the real flush instructions run in tests
 * and benchmarks.  It works by setting PMEM2_FORCE_GRANULARITY=CACHE_LINE,
 * which libpmem2 reads in pmem2_map_new(), around that one call (under a
 * lock; the previous value is restored).  It is unsafe on real storage:
 * a file on a non-DAX filesystem then is never msynced.
 *
 * Counters are per thread (a heap block per thread, found through a
 * __thread pointer, written only by its thread with relaxed atomic stores:
 * no shared cache line on the hot path).  Each block joins a global list
 * under a mutex on first use; when a thread exits, a pthread key
 * destructor folds its block into the totals of exited threads.
 *
 * With PMIO_O_RECORD the recording backend (record.c) is told of every
 * flush (after the bytes are in the mapping, before the flush instructions
 * run) and every drain (before the fence instruction runs).
 *
 * Invariants (1)-(3) are stated in pmemio.h.  An msync failure in PAGE mode
 * leaves durability unknown with no way to report it through a void
 * primitive; like libpmem2, pmemio then aborts with a one-line message
 * (the state on media is then what a power cut would leave).
 */
#include "pmemio/pmio_int.h"
#include "pmemio/ident.h"
#include "pmemio/inject.h"

/* Fault injection for the tests (inject.h): NULL in every program but
 * the crash tests. */
const struct pmio_inject *pmio_inject;

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies from this size up may use the non-temporal path. */
#define PMIO_NT_MIN 256

/* What to use instead, for every refusal. */
#define PMIO_USE                                                          \
	"use a devdax device (/dev/daxX.Y), a file on a filesystem mounted " \
	"-o dax, or an image file"

/* ---- counters ----------------------------------------------------------- */

struct pmio_tstats {
	uint64_t flushes;
	uint64_t fences;
	uint64_t bytes;
	struct pmio_tstats *next;
	struct pmio_tstats *prev;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pmio_tstats *stats_live; /* blocks of running threads */
static struct pmio_stats stats_dead;   /* sum over exited threads */
static pthread_key_t stats_key;
static pthread_once_t stats_once = PTHREAD_ONCE_INIT;
static __thread struct pmio_tstats *stats_mine;

/* Thread exit: fold the block into the exited totals and free it. */
static void stats_exit(void *arg)
{
	struct pmio_tstats *b = arg;

	pthread_mutex_lock(&stats_lock);
	stats_dead.flushes += b->flushes;
	stats_dead.fences += b->fences;
	stats_dead.bytes += b->bytes;
	if (b->prev)
		b->prev->next = b->next;
	else
		stats_live = b->next;
	if (b->next)
		b->next->prev = b->prev;
	pthread_mutex_unlock(&stats_lock);
	if (stats_mine == b)
		stats_mine = NULL;
	free(b);
}

/* Once per process: the key whose destructor runs at thread exit. */
static void stats_init(void)
{
	if (pthread_key_create(&stats_key, stats_exit) != 0)
		abort();
}

/* This thread's block, made and registered on first use. */
static struct pmio_tstats *stats_slow(void)
{
	struct pmio_tstats *b;

	pthread_once(&stats_once, stats_init);
	b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "pmfs: pmemio: out of memory for counters\n");
		abort();
	}
	pthread_mutex_lock(&stats_lock);
	b->next = stats_live;
	if (stats_live)
		stats_live->prev = b;
	stats_live = b;
	pthread_mutex_unlock(&stats_lock);
	pthread_setspecific(stats_key, b);
	stats_mine = b;
	return b;
}

/* This thread's counter block (hot path: one TLS load and a test). */
static inline struct pmio_tstats *stats_get(void)
{
	struct pmio_tstats *b = stats_mine;

	return b ? b : stats_slow();
}

/* Owner-only increment; relaxed so readers in other threads are defined. */
static inline void stats_add(uint64_t *ctr, uint64_t n)
{
	__atomic_store_n(ctr, __atomic_load_n(ctr, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

/* Snapshot of one block, readable from any thread. */
static struct pmio_stats stats_read(const struct pmio_tstats *b)
{
	struct pmio_stats s;

	s.flushes = __atomic_load_n(&b->flushes, __ATOMIC_RELAXED);
	s.fences = __atomic_load_n(&b->fences, __ATOMIC_RELAXED);
	s.bytes = __atomic_load_n(&b->bytes, __ATOMIC_RELAXED);
	return s;
}

/* This thread's counters; reads only, nothing is flushed. */
struct pmio_stats pmio_stats_thread(void)
{
	struct pmio_stats zero = { 0, 0, 0 };

	return stats_mine ? stats_read(stats_mine) : zero;
}

/* Sum over exited and running threads, under stats_lock. */
struct pmio_stats pmio_stats_total(void)
{
	struct pmio_stats t;
	struct pmio_tstats *b;

	pthread_mutex_lock(&stats_lock);
	t = stats_dead;
	for (b = stats_live; b; b = b->next) {
		struct pmio_stats s = stats_read(b);

		t.flushes += s.flushes;
		t.fences += s.fences;
		t.bytes += s.bytes;
	}
	pthread_mutex_unlock(&stats_lock);
	return t;
}

/* ---- names -------------------------------------------------------------- */

/* Short name of a granularity, for reports. */
const char *pmio_gran_name(enum pmio_gran g)
{
	switch (g) {
	case PMIO_GRAN_BYTE:
		return "byte";
	case PMIO_GRAN_CACHE_LINE:
		return "cache-line";
	case PMIO_GRAN_PAGE:
		return "page";
	}
	return "unknown";
}

/* Name of the flush/fence pair this CPU uses (arch_*.c). */
const char *pmio_arch_name(void)
{
	return pmio_arch_detect()->name;
}

/* Accessors: plain reads of the handle. */
void *pmio_base(const struct pmio *p)
{
	return p->base;
}

uint64_t pmio_size(const struct pmio *p)
{
	return p->size;
}

enum pmio_gran pmio_gran(const struct pmio *p)
{
	return p->gran;
}

enum pmio_kind pmio_kind(const struct pmio *p)
{
	return p->kind;
}

bool pmio_is_dax(const struct pmio *p)
{
	return p->gran != PMIO_GRAN_PAGE;
}

const char *pmio_flush_path(const struct pmio *p)
{
	return p->flush_path;
}

/* The namespace identified at open (ident.c), in the public form. */
int pmio_namespace(const struct pmio *p, struct pmio_nsinfo *ns)
{
	if (!p->has_ident)
		return -ENOENT;
	memset(ns, 0, sizeof(*ns));
	snprintf(ns->ns, sizeof(ns->ns), "%s", p->ident.ns);
	snprintf(ns->mode, sizeof(ns->mode), "%s",
		 pmio_ident_mode_name(p->ident.mode));
	snprintf(ns->dev, sizeof(ns->dev), "%s", p->ident.dev);
	ns->size = p->ident.size;
	ns->align = p->ident.align;
	ns->eadr = p->ident.eadr;
	return 0;
}

/* The bad-block list read at open, sorted by offset. */
size_t pmio_badblocks(const struct pmio *p, const struct pmio_badblock **bb)
{
	if (bb)
		*bb = p->bb;
	return p->nbb;
}

/* ---- open --------------------------------------------------------------- */

/* printf into the caller's one-line error buffer (may be NULL). */
static void pmio_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Format a one-line reason into err (if given). */
static void pmio_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A libpmem2 return code as -errno. */
static int pmio_pmem2_errno(int ret)
{
	if (ret >= 0)
		return 0;
	if (ret > PMEM2_E_UNKNOWN)
		return ret; /* libpmem2 passed an errno through */
	switch (ret) {
	case PMEM2_E_NO_ACCESS:
		return -EACCES;
	case PMEM2_E_NOSUPP:
	case PMEM2_E_GRANULARITY_NOT_SUPPORTED:
	case PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED:
		return -ENOTSUP;
	case PMEM2_E_IO_FAIL:
		return -EIO;
	default:
		return -EINVAL;
	}
}

/* Warn on stderr the first time a process maps non-DAX storage. */
static void pmio_warn_once(const struct pmio *p, const char *path,
			   bool forced, bool on_ns)
{
	static int warned;

	if (p->flags & PMIO_O_QUIET)
		return;
	if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		return;
	if (forced)
		fprintf(stderr,
			"pmfs: warning: %s: cache-line granularity forced "
			"(PMFS_FORCE_CACHE_LINE): for tests only, not crash "
			"safe unless the storage is DAX\n",
			path);
	else
		fprintf(stderr,
			"pmfs: warning: %s is not DAX storage%s: every flush "
			"is an msync (page granularity), which is slow\n",
			path,
			on_ns ? " (the filesystem is not mounted -o dax)" : "");
}

/*
 * Check the path's type before opening it; fills *kind, and *id with
 * *has_id set when the path is (or a file is on) an NVDIMM namespace.
 * 0 or -errno.
 */
static int pmio_check_path(const char *path, const struct stat *st,
			   enum pmio_kind *kind, struct pmio_ident *idp,
			   bool *has_id, char *err, size_t errlen)
{
	struct pmio_ident id;
	int ret;

	*has_id = false;
	if (S_ISREG(st->st_mode)) {
		*kind = PMIO_KIND_FILE;
		*has_id = pmio_ident_blockdev(st->st_dev, idp) == 0;
		return 0;
	}
	if (S_ISDIR(st->st_mode)) {
		pmio_err(err, errlen, "%s: is a directory; %s", path,
			 PMIO_USE);
		return -EISDIR;
	}
	if (S_ISBLK(st->st_mode)) {
		ret = pmio_ident_blockdev(st->st_rdev, &id);
		if (ret == 0 && (id.mode == PMIO_NS_SECTOR ||
				 id.mode == PMIO_NS_RAW)) {
			pmio_err(err, errlen,
				 "%s: is the block device of %s, a %s "
				 "namespace; reconfigure it as devdax with "
				 "`ndctl create-namespace -f -e %s -m devdax`",
				 path, id.ns, pmio_ident_mode_name(id.mode),
				 id.ns);
			return -EINVAL;
		}
		pmio_err(err, errlen,
			 "%s: is a block device; put a file on a filesystem "
			 "mounted -o dax, or reconfigure the namespace as "
			 "devdax with ndctl",
			 path);
		return -EINVAL;
	}
	if (S_ISCHR(st->st_mode)) {
		ret = pmio_ident_chardev(st->st_rdev, &id);
		if (ret == -ENODEV) {
			pmio_err(err, errlen,
				 "%s: is a character device but not a dax "
				 "device; %s",
				 path, PMIO_USE);
			return -ENODEV;
		}
		if (ret != 0) {
			pmio_err(err, errlen,
				 "%s: is a dax device outside any NVDIMM "
				 "namespace (hmem or CXL memory); use a devdax "
				 "namespace made with ndctl",
				 path);
			return -ENODEV;
		}
		if (id.mode != PMIO_NS_DEVDAX) {
			pmio_err(err, errlen,
				 "%s: belongs to %s in %s mode; reconfigure it "
				 "as devdax with ndctl",
				 path, id.ns, pmio_ident_mode_name(id.mode));
			return -EINVAL;
		}
		*kind = PMIO_KIND_DEVDAX;
		*idp = id;
		*has_id = true;
		return 0;
	}
	pmio_err(err, errlen, "%s: is not a file or a device; %s", path,
		 PMIO_USE);
	return -EINVAL;
}

static pthread_mutex_t pmio_env_lock = PTHREAD_MUTEX_INITIALIZER;

/* pmem2_map_new, with PMEM2_FORCE_GRANULARITY set around it if forced. */
static int pmio_map_new(struct pmem2_map **map, struct pmem2_config *cfg,
			struct pmem2_source *src, bool forced)
{
	static const char var[] = "PMEM2_FORCE_GRANULARITY";
	char *old = NULL;
	const char *cur;
	int ret;

	if (!forced)
		return pmem2_map_new(map, cfg, src);
	pthread_mutex_lock(&pmio_env_lock);
	cur = getenv(var);
	if (cur) {
		old = strdup(cur);
		if (!old) {
			ret = -ENOMEM;
			goto out_unlock;
		}
	}
	setenv(var, "CACHE_LINE", 1);
	ret = pmem2_map_new(map, cfg, src);
	if (old)
		setenv(var, old, 1);
	else
		unsetenv(var);
	free(old);
out_unlock:
	pthread_mutex_unlock(&pmio_env_lock);
	return ret;
}

/* Map p->src at the finest granularity libpmem2 promises. 0 or -errno. */
static int pmio_map(struct pmio *p, const char *path, bool forced, char *err,
		    size_t errlen)
{
	struct pmem2_config *cfg = NULL;
	enum pmem2_granularity g;
	int ret;

	ret = pmem2_config_new(&cfg);
	if (ret)
		goto out_pmem2;
	ret = pmem2_config_set_sharing(cfg, PMEM2_SHARED);
	if (ret)
		goto out_pmem2;
	ret = pmem2_config_set_protection(
		cfg, (p->flags & PMIO_O_RDONLY)
			     ? PMEM2_PROT_READ
			     : PMEM2_PROT_READ | PMEM2_PROT_WRITE);
	if (ret)
		goto out_pmem2;
	/*
	 * The requested granularity is the coarsest we accept; libpmem2
	 * returns the finest it has (BYTE under eADR).  Non-DAX storage
	 * only offers PAGE: ask again for that.
	 */
	ret = pmem2_config_set_required_store_granularity(
		cfg, PMEM2_GRANULARITY_CACHE_LINE);
	if (ret)
		goto out_pmem2;
	ret = pmio_map_new(&p->map, cfg, p->src, forced);
	if (ret == PMEM2_E_GRANULARITY_NOT_SUPPORTED) {
		ret = pmem2_config_set_required_store_granularity(
			cfg, PMEM2_GRANULARITY_PAGE);
		if (ret)
			goto out_pmem2;
		ret = pmio_map_new(&p->map, cfg, p->src, forced);
	}
	if (ret)
		goto out_pmem2;
	p->base = pmem2_map_get_address(p->map);
	p->size = pmem2_map_get_size(p->map);
	g = pmem2_map_get_store_granularity(p->map);
	p->gran = g == PMEM2_GRANULARITY_BYTE	      ? PMIO_GRAN_BYTE
		  : g == PMEM2_GRANULARITY_CACHE_LINE ? PMIO_GRAN_CACHE_LINE
						      : PMIO_GRAN_PAGE;
	pmem2_config_delete(&cfg);
	return 0;

out_pmem2:
	if (ret == -ENOMEM)
		pmio_err(err, errlen, "%s: cannot map: out of memory", path);
	else
		pmio_err(err, errlen, "%s: cannot map: %s", path,
			 pmem2_errormsg());
	if (cfg)
		pmem2_config_delete(&cfg);
	return pmio_pmem2_errno(ret);
}

/* qsort order of bad blocks: by offset. */
static int pmio_bb_cmp(const void *a, const void *b)
{
	const struct pmio_badblock *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Read libpmem2's bad-block list into p->bb, sorted. 0 or -errno. */
static int pmio_read_badblocks(struct pmio *p, const char *path, char *err,
			       size_t errlen)
{
	struct pmem2_badblock_context *ctx = NULL;
	struct pmem2_badblock bb;
	size_t cap = 0;
	int ret;

	ret = pmem2_badblock_context_new(&ctx, p->src);
	if (ret) {
		pmio_err(err, errlen, "%s: cannot read the bad-block list: %s",
			 path, pmem2_errormsg());
		return pmio_pmem2_errno(ret);
	}
	while ((ret = pmem2_badblock_next(ctx, &bb)) == 0) {
		if (p->nbb == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct pmio_badblock *n =
				realloc(p->bb, ncap * sizeof(*n));

			if (!n) {
				ret = -ENOMEM;
				pmio_err(err, errlen,
					 "%s: out of memory for bad blocks",
					 path);
				goto out_ctx;
			}
			p->bb = n;
			cap = ncap;
		}
		p->bb[p->nbb].off = bb.offset;
		p->bb[p->nbb].len = bb.length;
		p->nbb++;
	}
	if (ret == PMEM2_E_NO_BAD_BLOCK_FOUND) {
		ret = 0;
	} else {
		pmio_err(err, errlen, "%s: cannot read the bad-block list: %s",
			 path, pmem2_errormsg());
		ret = pmio_pmem2_errno(ret);
		goto out_ctx;
	}
	if (p->nbb > 1)
		qsort(p->bb, p->nbb, sizeof(*p->bb), pmio_bb_cmp);
out_ctx:
	pmem2_badblock_context_delete(&ctx);
	return ret;
}

/* Fill p->flush_path from the granularity and the CPU's table. */
static void pmio_set_flush_path(struct pmio *p)
{
	const char *plus = strchr(p->arch->name, '+');
	const char *drain = plus ? plus + 1 : p->arch->name;

	switch (p->gran) {
	case PMIO_GRAN_BYTE:
		snprintf(p->flush_path, sizeof(p->flush_path),
			 "none+%s (eADR)", drain);
		break;
	case PMIO_GRAN_CACHE_LINE:
		snprintf(p->flush_path, sizeof(p->flush_path), "%s",
			 p->arch->name);
		break;
	case PMIO_GRAN_PAGE:
		snprintf(p->flush_path, sizeof(p->flush_path), "msync+%s",
			 drain);
		break;
	}
}

/* Open and map a namespace; nothing on it is written.  See pmemio.h. */
int pmio_open(const char *path, const struct pmio_opts *opts,
	      struct pmio **out, char *err, size_t errlen)
{
	struct pmio_opts dflt = { 0, 0 };
	struct pmio *p = NULL;
	struct pmio_ident id = { .mode = PMIO_NS_UNKNOWN };
	struct stat st, fst;
	enum pmio_kind kind = PMIO_KIND_FILE;
	const char *env;
	bool forced, has_id;
	size_t srclen;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!out) {
		pmio_err(err, errlen, "pmio_open: no result pointer");
		return -EINVAL;
	}
	*out = NULL;
	if (!path || !*path) {
		pmio_err(err, errlen, "no path given; %s", PMIO_USE);
		return -EINVAL;
	}
	if (!opts)
		opts = &dflt;
	env = getenv("PMFS_FORCE_CACHE_LINE");
	forced = (opts->flags & PMIO_O_FORCE_CL) ||
		 (env && strcmp(env, "1") == 0);

	if (stat(path, &st) != 0) {
		ret = -errno;
		if (ret == -ENOENT)
			pmio_err(err, errlen, "%s: no such file or device; %s",
				 path, PMIO_USE);
		else
			pmio_err(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = pmio_check_path(path, &st, &kind, &id, &has_id, err, errlen);
	if (ret)
		return ret;

	p = calloc(1, sizeof(*p));
	if (!p) {
		pmio_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	p->fd = -1;
	p->kind = kind;
	p->ident = id;
	p->has_ident = has_id;
	p->flags = opts->flags;
	p->arch = pmio_arch_detect();

	p->fd = -1;
	if ((p->flags & PMIO_O_RDONLY) && (p->flags & PMIO_O_UPGRADE)) {
		/* read-write when permitted, else as asked: read-only */
		p->fd = open(path, O_RDWR | O_CLOEXEC);
		p->fd_writable = p->fd >= 0;
	}
	if (p->fd < 0) {
		p->fd = open(path,
			     ((p->flags & PMIO_O_RDONLY) ? O_RDONLY : O_RDWR) |
				     O_CLOEXEC);
		p->fd_writable = p->fd >= 0 && !(p->flags & PMIO_O_RDONLY);
	}
	if (p->fd < 0) {
		ret = -errno;
		if (ret == -EACCES || ret == -EPERM || ret == -EROFS)
			pmio_err(err, errlen,
				 "%s: %s (need %s access)%s", path,
				 strerror(-ret),
				 (p->flags & PMIO_O_RDONLY) ? "read"
							    : "read-write",
				 (p->flags & PMIO_O_RDONLY)
					 ? ""
					 : "; run as its owner or open it "
					   "read-only");
		else
			pmio_err(err, errlen, "%s: cannot open: %s", path,
				 strerror(-ret));
		goto out_free;
	}
	/* The path may have changed between stat and open. */
	if (fstat(p->fd, &fst) != 0 || (fst.st_mode & S_IFMT) !=
					       (st.st_mode & S_IFMT) ||
	    fst.st_rdev != st.st_rdev) {
		pmio_err(err, errlen, "%s: changed while being opened", path);
		ret = -EAGAIN;
		goto out_close;
	}

	if ((p->flags & PMIO_O_EXCL) && flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
		ret = -errno;
		if (ret == -EWOULDBLOCK) {
			ret = -EBUSY;
			pmio_err(err, errlen, "%s: is in use (mounted?)",
				 path);
		} else {
			pmio_err(err, errlen, "%s: cannot lock: %s", path,
				 strerror(-ret));
		}
		goto out_close;
	}

	ret = pmem2_source_from_fd(&p->src, p->fd);
	if (ret) {
		pmio_err(err, errlen, "%s: %s; %s", path, pmem2_errormsg(),
			 PMIO_USE);
		ret = pmio_pmem2_errno(ret);
		goto out_close;
	}
	ret = pmem2_source_size(p->src, &srclen);
	if (ret) {
		pmio_err(err, errlen, "%s: cannot read its size: %s", path,
			 pmem2_errormsg());
		ret = pmio_pmem2_errno(ret);
		goto out_src;
	}
	if (srclen == 0) {
		pmio_err(err, errlen, "%s: is empty; give it a size first",
			 path);
		ret = -EINVAL;
		goto out_src;
	}
	if (srclen < opts->min_size) {
		pmio_err(err, errlen,
			 "%s: too small (%zu bytes, need at least %llu)%s",
			 path, srclen, (unsigned long long)opts->min_size,
			 kind == PMIO_KIND_FILE ? "; make it larger"
						: "; use a larger namespace");
		ret = -EINVAL;
		goto out_src;
	}

	ret = pmio_map(p, path, forced, err, errlen);
	if (ret)
		goto out_src;
	if (p->gran == PMIO_GRAN_PAGE) {
		pmio_warn_once(p, path, false, kind == PMIO_KIND_FILE && has_id);
	} else if (forced) {
		pmio_warn_once(p, path, true, false);
	}

	ret = pmio_read_badblocks(p, path, err, errlen);
	if (ret)
		goto out_map;
	pmio_set_flush_path(p);

	if (p->flags & PMIO_O_RECORD) {
		ret = pmio_rec_attach(p);
		if (ret) {
			pmio_err(err, errlen,
				 "%s: cannot start the recording backend: %s",
				 path, strerror(-ret));
			goto out_map;
		}
	}
	*out = p;
	return 0;

out_map:
	pmem2_map_delete(&p->map);
out_src:
	pmem2_source_delete(&p->src);
out_close:
	close(p->fd); /* also drops the flock */
out_free:
	free(p->bb);
	free(p);
	return ret;
}

/* Unmap and unlock; what was durable stays durable, nothing is flushed. */
int pmio_set_writable(struct pmio *p, bool writable)
{
	if (writable == !(p->flags & PMIO_O_RDONLY))
		return 0;
	if (writable && !p->fd_writable)
		return -EROFS;
	if (!(p->flags & PMIO_O_RECORD) &&
	    mprotect(p->base, p->size,
		     writable ? PROT_READ | PROT_WRITE : PROT_READ) != 0)
		return -errno;
	if (writable)
		p->flags &= ~(unsigned)PMIO_O_RDONLY;
	else
		p->flags |= PMIO_O_RDONLY;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

int pmio_prefault(struct pmio *p, uint64_t off, uint64_t len)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE), end;

	if (p->flags & (PMIO_O_RECORD | PMIO_O_RDONLY) || off >= p->size)
		return 0;
	end = off + len < p->size ? off + len : p->size;
	off &= ~(ps - 1);
	end = (end + ps - 1) & ~(ps - 1);
	if (end > p->size)
		end = p->size & ~(ps - 1);
	if (end <= off)
		return 0;
	/* no store: the pages are made present and writable in the page
	 * tables (allocated, for a sparse file), their contents unchanged */
	if (madvise((uint8_t *)p->base + off, end - off, MADV_POPULATE_WRITE))
		return -errno;
	return 0;
}

void pmio_close(struct pmio *p)
{
	if (!p)
		return;
	if (p->flags & PMIO_O_RECORD)
		pmio_rec_detach(p);
	if (p->map)
		pmem2_map_delete(&p->map);
	if (p->src)
		pmem2_source_delete(&p->src);
	if (p->fd >= 0)
		close(p->fd);
	free(p->bb);
	free(p);
}

/* ---- primitives --------------------------------------------------------- */

/* msync the pages covering [addr, addr+len); aborts if it fails. */
static void pmio_msync(const void *addr, size_t len)
{
	static long pagesz;
	uintptr_t start, end;
	long ps = __atomic_load_n(&pagesz, __ATOMIC_RELAXED);

	if (ps <= 0) {
		ps = sysconf(_SC_PAGESIZE);
		__atomic_store_n(&pagesz, ps, __ATOMIC_RELAXED);
	}
	start = (uintptr_t)addr & ~((uintptr_t)ps - 1);
	end = (uintptr_t)addr + len;
	/* ORDER: dirty pages written back before msync returns. */
	if (msync((void *)start, end - start, MS_SYNC) != 0) {
		fprintf(stderr,
			"pmfs: pmemio: msync failed: %s; durability of the "
			"last writes is unknown, stopping\n",
			strerror(errno));
		abort();
	}
}

/* Start write-back of [addr, addr+len); durable after the next drain. */
void pmio_flush(struct pmio *p, const void *addr, size_t len)
{
	uintptr_t line, first, last;

	if (__builtin_expect(pmio_inject != NULL, 0) && pmio_inject->flush(p))
		return; /* an injected fault (inject.h), tests only */
	if (p->flags & PMIO_O_RECORD)
		pmio_rec_flush(p, addr, len);
	if (len == 0)
		return;
	switch (p->gran) {
	case PMIO_GRAN_BYTE:
		break;
	case PMIO_GRAN_CACHE_LINE:
		line = p->arch->line;
		first = (uintptr_t)addr & ~(line - 1);
		last = ((uintptr_t)addr + len + line - 1) & ~(line - 1);
		p->arch->flush(addr, len);
		stats_add(&stats_get()->flushes, (last - first) / line);
		break;
	case PMIO_GRAN_PAGE:
		pmio_msync(addr, len);
		stats_add(&stats_get()->flushes, 1);
		break;
	}
}

/* Every earlier flush of this thread is durable on return. */
void pmio_drain(struct pmio *p)
{
	if (__builtin_expect(pmio_inject != NULL, 0) && pmio_inject->drain(p))
		return; /* an injected fault (inject.h), tests only */
	if (p->flags & PMIO_O_RECORD)
		pmio_rec_drain(p);
	/* ORDER: earlier flushes complete before later stores. */
	p->arch->drain();
	stats_add(&stats_get()->fences, 1);
}

/* [addr, addr+len) is durable on return. */
void pmio_persist(struct pmio *p, const void *addr, size_t len)
{
	pmio_flush(p, addr, len);
	/* ORDER: the range durable before the caller goes on. */
	pmio_drain(p);
}

/* Copy and flush; durable after the next drain. */
void pmio_memcpy_nodrain(struct pmio *p, void *dst, const void *src,
			 size_t len)
{
	if (__builtin_expect(pmio_inject != NULL, 0))
		pmio_inject->store(p);
	if (len >= PMIO_NT_MIN && p->gran != PMIO_GRAN_PAGE &&
	    p->arch->memcpy_nt) {
		/*
		 * Non-temporal: bypasses the cache, no line left to flush, so
		 * no flush is counted (the arch routine handles ragged ends).
		 */
		p->arch->memcpy_nt(dst, src, len);
		if ((p->flags & PMIO_O_RECORD) &&
		    !(__builtin_expect(pmio_inject != NULL, 0) &&
		      pmio_inject->flush(p)))
			pmio_rec_flush(p, dst, len);
	} else {
		memcpy(dst, src, len);
		pmio_flush(p, dst, len);
	}
	stats_add(&stats_get()->bytes, len);
}

/* Set and flush; durable after the next drain. */
void pmio_memset_nodrain(struct pmio *p, void *dst, int c, size_t len)
{
	if (__builtin_expect(pmio_inject != NULL, 0))
		pmio_inject->store(p);
	memset(dst, c, len);
	pmio_flush(p, dst, len);
	stats_add(&stats_get()->bytes, len);
}

/* Copy only; nothing is durable until the caller flushes and drains. */
void pmio_memcpy_noflush(struct pmio *p, void *dst, const void *src,
			 size_t len)
{
	if (__builtin_expect(pmio_inject != NULL, 0))
		pmio_inject->store(p);
	memcpy(dst, src, len);
	stats_add(&stats_get()->bytes, len);
}

/* Set only; nothing is durable until the caller flushes and drains. */
void pmio_memset_noflush(struct pmio *p, void *dst, int c, size_t len)
{
	if (__builtin_expect(pmio_inject != NULL, 0))
		pmio_inject->store(p);
	memset(dst, c, len);
	stats_add(&stats_get()->bytes, len);
}

/* One aligned 8-byte store (invariant 2); not flushed, not durable yet. */
void pmio_store64(struct pmio *p, uint64_t *dst, uint64_t v)
{
	if (__builtin_expect(pmio_inject != NULL, 0))
		pmio_inject->store(p);
	assert(((uintptr_t)dst & 7) == 0);
	__atomic_store_n(dst, v, __ATOMIC_RELAXED);
	stats_add(&stats_get()->bytes, 8);
}

/* Store and flush one commit word; durable after the next drain. */
void pmio_commit64(struct pmio *p, uint64_t *dst, uint64_t v)
{
	if (__builtin_expect(pmio_inject != NULL, 0))
		pmio_inject->commit(p);
	pmio_store64(p, dst, v);
	pmio_flush(p, dst, sizeof(*dst));
}
