/*
 * test_kill.c - kill the daemon, remount, nothing answered is lost.
 *
 * Clients (one, or four at once) are child processes running a workload
 * on a real mount: create + write, overwrite, rename (also over another
 * file), unlink, mkdir, and appends to one file they all share.  They all
 * work in the same directories; the names a client makes carry its
 * number, so what a name holds depends on that client's operations alone
 * (and the shared file is checked record by record).  After each
 * operation returned, the client appends a line to its own log outside
 * the mount.  The test SIGKILLs mount.pmfs after a chosen number of
 * answered operations, detaches the dead mount, remounts with -v (which
 * must report a recovery mount), and compares the whole tree with a model
 * replayed from the logs: every answered operation is there with its
 * data, and nothing else is.  Rounds repeat on the same image; the last
 * is followed by a clean unmount, `fsck.pmfs -fn` (which must exit 0) and
 * a clean mount showing the same tree.
 *
 * Operations in flight: when the daemon dies, each client's current call
 * fails; the client logs the operation as failed, with the progress
 * answered before that call, and stops.  The failed call may have been
 * committed by the daemon before it died, unanswered.  Each request is
 * all or nothing, but a write(2) can be more than one request: the
 * kernel ends a WRITE after a page it covers in part, and answers a
 * short write when a later request fails (the client then writes the
 * rest, as programs do).  So after the remount the test looks at the
 * tree, accepts the progress answered or any request boundary after it
 * up to the end of the failed call, and writes the one it found back to
 * the log.  Later rounds replay that outcome: a file the in-flight rename
 * moved is expected under its new name from then on.
 *
 * A full image ends a client cleanly: ENOSPC is an answer (the call did
 * nothing), the client logs it and stops; once every client has stopped,
 * the daemon is killed as usual and what was answered is checked.  Only
 * the workloads meant to fill the image accept ENOSPC.
 *
 * Log lines.  N is the client's sequence number, which names what the
 * operation makes and seeds the data it writes.  Progress is counted in
 * units: the new name of a create, one per byte written, one for the
 * other operations.
 *
 *   C N PATH LEN       create PATH and write LEN bytes     1 + LEN units
 *   W N PATH OFF LEN   write LEN bytes at OFF (<= size)    LEN units
 *   R N FROM TO        rename (TO may be a file of the client's)   1
 *   U N PATH           unlink                                      1
 *   M N PATH           mkdir                                       1
 *   A N                append a 512-byte record to /append         1
 *   ? DONE MAYBE ERRNO KILLED OP
 *                      OP failed with ERRNO (after the kill if KILLED)
 *                      at progress DONE; if MAYBE, the failed call may
 *                      be in, in part or whole
 *   = N P              written by the test: the failed operation N is
 *                      in the tree up to progress P
 */
#include <dirent.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "mnt.h"

#define MAX_CLIENTS 4
#define SHARED_DIRS 5           /* "" (the root) and s0..s3 */
#define MAX_OWN_DIRS 4          /* directories a client makes */
#define FILE_MAX (64 * 1024)    /* largest file a client makes */
#define REC_LEN 512             /* an append record */
#define PATH_LEN 48
#define STALL_SECONDS 30        /* no answer for this long: a hang */

/* Client exit codes. */
#define CL_GONE 10 /* a call failed after the daemon was killed */
#define CL_FULL 11 /* ENOSPC before the kill: the image is full */
#define CL_ERR 12  /* any other error before the kill (in the log) */

struct workload {
	int clients;
	uint64_t img_size;
	int max_files; /* per client: at the cap, unlink instead of create */
	bool fill;     /* no unlinks: run until ENOSPC stops every client */
};

/* Shared by the test and its clients (an anonymous shared mapping). */
struct shared {
	long answered; /* operations answered, all clients together */
	int killed;    /* set just before the daemon is killed */
};

static const char *const shared_dirs[SHARED_DIRS] = { "", "s0", "s1", "s2",
						      "s3" };

static struct mnt M;
/* per client: its log and (while it runs) its pid; mount -v output */
static char ops_log[MAX_CLIENTS][128], mount_log[128];
static pid_t client_pid[MAX_CLIENTS];

static void setup(void)
{
	mnt_need_fuse();
}

static void teardown(void)
{
	for (int c = 0; c < MAX_CLIENTS; c++) {
		if (client_pid[c] > 0) {
			kill(client_pid[c], SIGKILL);
			waitpid(client_pid[c], NULL, 0);
		}
		client_pid[c] = 0;
		if (ops_log[c][0])
			unlink(ops_log[c]);
		ops_log[c][0] = 0;
	}
	mnt_teardown(&M);
	if (mount_log[0])
		unlink(mount_log);
	mount_log[0] = 0;
}

/* ---- data --------------------------------------------------------------- */

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The bytes client c's operation n writes: reproducible from (c, n). */
static void fill(char *p, size_t len, int c, long n)
{
	uint64_t x = ((uint64_t)c << 40 ^ (uint64_t)n) * 0x9e3779b97f4a7c15ull;

	x |= 1;

	for (size_t k = 0; k < len; k++) {
		if (k % 8 == 0)
			rnd(&x);
		p[k] = (char)(x >> (k % 8 * 8));
	}
}

/* Client c's n-th operation as an append record: a header, then data. */
static void record(char *rec, int c, long n)
{
	memset(rec, ' ', 32);
	snprintf(rec, 32, "c%d n%ld", c, n);
	fill(rec + 32, REC_LEN - 32, c, n);
}

/* ---- the model: what the tree must hold ---------------------------------- */

/*
 * The model is used by the test and by its clients (forked children,
 * which keep their own copy up to date).  A client is outside Criterion's
 * reach: a failed check there ends it with CL_ERR, which the test
 * reports, rather than running the test's teardown in the child.
 */
static bool in_client;

#define check(cond, ...)                                                   \
	do {                                                               \
		if (in_client && !(cond))                                  \
			_exit(CL_ERR);                                     \
		cr_assert(cond, __VA_ARGS__);                              \
	} while (0)

struct ent {
	char path[PATH_LEN]; /* relative to the mountpoint */
	int owner;           /* the client, or -1: made before the clients */
	bool dir;
	bool seen;           /* found by the walk */
	char *data;          /* a file's bytes */
	size_t len;
	char why[32];        /* the operation that made it so */
};

struct model {
	struct ent *e;
	size_t n, cap;
	/* per client: its answered appends, in order, and its next number */
	long *app[MAX_CLIENTS];
	size_t napp[MAX_CLIENTS], capapp[MAX_CLIENTS];
	long next[MAX_CLIENTS];
};

static struct ent *model_find(const struct model *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].path, path))
			return &m->e[i];
	return NULL;
}

static struct ent *model_add(struct model *m, const char *path, int owner,
			     bool dir)
{
	struct ent *e;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		check(m->e, "out of memory");
	}
	e = &m->e[m->n++];
	memset(e, 0, sizeof(*e));
	check(strlen(path) < PATH_LEN, "%s: too long", path);
	strcpy(e->path, path);
	e->owner = owner;
	e->dir = dir;
	return e;
}

static void model_del(struct model *m, struct ent *e)
{
	free(e->data);
	*e = m->e[--m->n];
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].data);
	for (int c = 0; c < MAX_CLIENTS; c++)
		free(m->app[c]);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* Write len bytes of (c, n)'s data at off, growing the file if needed. */
static void ent_write(struct ent *e, size_t off, size_t len, int c, long n)
{
	if (off + len > e->len) {
		e->data = realloc(e->data, off + len);
		check(e->data, "out of memory");
		memset(e->data + e->len, 0, off + len - e->len);
		e->len = off + len;
	}
	if (len)
		fill(e->data + off, len, c, n);
}

/* ---- operations ------------------------------------------------------- */

struct op {
	char kind;                     /* C W R U M A */
	long n;                        /* the client's sequence number */
	char a[PATH_LEN], b[PATH_LEN]; /* the path; rename: from a to b */
	long off, len;
};

/*
 * An operation's progress is counted in units: a create is the new name
 * and then one unit per byte written, an overwrite one unit per byte, the
 * others one unit.  The model applies an operation up to a progress.
 */
static long op_units(const struct op *o)
{
	return o->kind == 'C' ? 1 + o->len : o->kind == 'W' ? o->len : 1;
}

/*
 * The progress one more request can reach from p.  The kernel cuts a
 * write(2) into WRITE requests at page boundaries of the file (it ends a
 * request after a page the write covers only in part), and pmfs applies
 * each request whole: a write in flight can be in up to any of them.
 */
static long op_step(const struct op *o, long p)
{
	long pg = sysconf(_SC_PAGESIZE), base, at, end;

	if (o->kind == 'W')
		base = -o->off; /* progress = file offset - off */
	else if (o->kind == 'C' && p > 0)
		base = 1; /* progress = 1 + file offset */
	else
		return p + 1;
	end = o->kind == 'C' ? o->len : o->off + o->len;
	at = ((p - base) / pg + 1) * pg;
	return (at < end ? at : end) + base;
}

static void op_format(const struct op *o, char *s, size_t sz)
{
	switch (o->kind) {
	case 'C':
		snprintf(s, sz, "C %ld %s %ld", o->n, o->a, o->len);
		break;
	case 'W':
		snprintf(s, sz, "W %ld %s %ld %ld", o->n, o->a, o->off, o->len);
		break;
	case 'R':
		snprintf(s, sz, "R %ld %s %s", o->n, o->a, o->b);
		break;
	case 'U':
	case 'M':
		snprintf(s, sz, "%c %ld %s", o->kind, o->n, o->a);
		break;
	default:
		snprintf(s, sz, "A %ld", o->n);
	}
}

/* Parse op_format's output; false if s is not an operation. */
static bool op_parse(const char *s, struct op *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = s[0];
	switch (o->kind) {
	case 'C':
		return sscanf(s, "C %ld %47s %ld", &o->n, o->a, &o->len) == 3;
	case 'W':
		return sscanf(s, "W %ld %47s %ld %ld", &o->n, o->a, &o->off,
			      &o->len) == 4;
	case 'R':
		return sscanf(s, "R %ld %47s %47s", &o->n, o->a, o->b) == 3;
	case 'U':
		return sscanf(s, "U %ld %47s", &o->n, o->a) == 2;
	case 'M':
		return sscanf(s, "M %ld %47s", &o->n, o->a) == 2;
	case 'A':
		return sscanf(s, "A %ld", &o->n) == 1;
	}
	return false;
}

/* Apply client c's operation o up to progress k to the model. */
static void op_apply(struct model *m, int c, const struct op *o, long k)
{
	struct ent *e = o->kind == 'C' || o->kind == 'M' || o->kind == 'A'
				? NULL
				: model_find(m, o->a);
	char why[32];

	snprintf(why, sizeof(why), "c%d %c %ld", c, o->kind, o->n);
	if (o->n >= m->next[c])
		m->next[c] = o->n + 1;
	if (k == 0)
		return;
	check(o->kind == 'C' || o->kind == 'M' || o->kind == 'A' || e,
	      "log of c%d: %s on %s, which the model does not hold", c, why,
	      o->a);
	switch (o->kind) {
	case 'C':
		check(!model_find(m, o->a), "log of c%d: %s on existing %s", c,
		      why, o->a);
		e = model_add(m, o->a, c, false);
		ent_write(e, 0, (size_t)(k - 1), c, o->n);
		break;
	case 'W':
		ent_write(e, (size_t)o->off, (size_t)k, c, o->n);
		break;
	case 'R': {
		struct ent *t = model_find(m, o->b);

		if (t) {
			/* model_del moves the last entry into t's place */
			bool moved = e == &m->e[m->n - 1];

			model_del(m, t);
			if (moved)
				e = t;
		}
		strcpy(e->path, o->b);
		break;
	}
	case 'U':
		model_del(m, e);
		return;
	case 'M':
		e = model_add(m, o->a, c, true);
		break;
	case 'A':
		if (m->napp[c] == m->capapp[c]) {
			m->capapp[c] = m->capapp[c] ? m->capapp[c] * 2 : 256;
			m->app[c] = realloc(m->app[c],
					    m->capapp[c] * sizeof(long));
			check(m->app[c], "out of memory");
		}
		m->app[c][m->napp[c]++] = o->n;
		return;
	}
	snprintf(e->why, sizeof(e->why), "%s", why);
}

/* ---- the client ------------------------------------------------------- */

/* dst = "where/c<c>f<n>" (or without "where/" at the root). */
static void new_name(char *dst, const char *where, int c, long n)
{
	if (snprintf(dst, PATH_LEN, "%s%sc%df%ld", where, *where ? "/" : "",
		     c, n) >= PATH_LEN)
		_exit(CL_ERR); /* cannot happen: names are short */
}

/* Choose client c's next operation n from its part of the model. */
static void op_pick(const struct model *m, const struct workload *w, int c,
		    long n, uint64_t *x, struct op *o)
{
	/* of 20: create 6, write 3, rename 4, unlink 3, mkdir 1, append 3 */
	static const char mix[] = "CCCCCCWWWRRRRUUUMAAA";
	const struct ent *files[1024], *dirs[MAX_OWN_DIRS];
	int nf = 0, nd = 0, nwhere;
	const char *where;
	char kind;

	for (size_t i = 0; i < m->n; i++) {
		const struct ent *e = &m->e[i];

		if (e->owner != c)
			continue;
		if (e->dir && nd < MAX_OWN_DIRS)
			dirs[nd++] = e;
		else if (!e->dir && nf < (int)(sizeof(files) / sizeof(*files)))
			files[nf++] = e;
	}
	kind = mix[rnd(x) % 20];
	if (kind == 'U' && w->fill)
		kind = 'C';
	if (kind == 'C' && nf >= w->max_files)
		kind = 'U';
	if ((kind == 'W' || kind == 'R' || kind == 'U') && nf == 0)
		kind = 'C';
	if (kind == 'M' && nd == MAX_OWN_DIRS)
		kind = 'C';
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->n = n;
	/* where a new name goes: a shared directory or one of c's own */
	nwhere = (int)(rnd(x) % (SHARED_DIRS + (unsigned)nd));
	where = nwhere < SHARED_DIRS ? shared_dirs[nwhere]
				     : dirs[nwhere - SHARED_DIRS]->path;
	switch (kind) {
	case 'C':
		new_name(o->a, where, c, n);
		/* a quarter of them small */
		o->len = rnd(x) % 4 ? 40000 : 100;
		o->len = (long)(rnd(x) % (uint64_t)o->len);
		break;
	case 'W': {
		const struct ent *e = files[rnd(x) % (unsigned)nf];
		long lim;

		strcpy(o->a, e->path);
		o->len = 1 + (long)(rnd(x) % 8192);
		lim = (long)e->len < FILE_MAX - o->len ? (long)e->len
						       : FILE_MAX - o->len;
		o->off = (long)(rnd(x) % (uint64_t)(lim + 1));
		break;
	}
	case 'R': {
		const struct ent *e = files[rnd(x) % (unsigned)nf];

		strcpy(o->a, e->path);
		if (nf > 1 && rnd(x) % 4 == 0) {
			const struct ent *t;

			do
				t = files[rnd(x) % (unsigned)nf];
			while (t == e);
			strcpy(o->b, t->path); /* over another file */
		} else {
			new_name(o->b, where, c, n);
		}
		break;
	}
	case 'U':
		strcpy(o->a, files[rnd(x) % (unsigned)nf]->path);
		break;
	case 'M':
		snprintf(o->a, PATH_LEN, "%s/c%dd%ld",
			 shared_dirs[1 + rnd(x) % (SHARED_DIRS - 1)], c, n);
		break;
	}
}

/*
 * Write len bytes at off, continuing after a short write (the kernel
 * answers the requests before a failed one); 0 or errno, *wrote the bytes
 * answered.
 */
static int write_all(int fd, const char *buf, size_t len, off_t off,
		     size_t *wrote)
{
	for (*wrote = 0; *wrote < len;) {
		ssize_t w = pwrite(fd, buf + *wrote, len - *wrote,
				   off + (off_t)*wrote);

		if (w < 0)
			return errno;
		if (w == 0)
			return EIO; /* no progress and no error */
		*wrote += (size_t)w;
	}
	return 0;
}

/*
 * Run operation o of client c; 0, or the errno of the call that failed.
 * *done is the progress answered; *effect is 1 if the call that failed
 * was one with an effect (not an open or a close).
 */
static int op_run(int c, const struct op *o, long *done, int *effect)
{
	static char buf[FILE_MAX];
	char a[4096], b[4096];
	int fd = -1, err = 0;
	size_t wrote = 0;
	ssize_t wr;

	*done = *effect = 0;
	snprintf(a, sizeof(a), "%s/%s", M.dir, o->a);
	snprintf(b, sizeof(b), "%s/%s", M.dir, o->b);
	switch (o->kind) {
	case 'C':
		fill(buf, (size_t)o->len, c, o->n);
		fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			goto effect_failed;
		err = write_all(fd, buf, (size_t)o->len, 0, &wrote);
		*done = 1 + (long)wrote;
		break;
	case 'W':
		fill(buf, (size_t)o->len, c, o->n);
		fd = open(a, O_WRONLY);
		if (fd < 0)
			return errno;
		err = write_all(fd, buf, (size_t)o->len, o->off, &wrote);
		*done = (long)wrote;
		break;
	case 'A':
		/* a record never crosses a page: one request */
		record(buf, c, o->n);
		snprintf(a, sizeof(a), "%s/append", M.dir);
		fd = open(a, O_WRONLY | O_APPEND);
		if (fd < 0)
			return errno;
		wr = write(fd, buf, REC_LEN);
		if (wr == REC_LEN)
			*done = 1;
		else
			err = wr < 0 ? errno : EIO;
		break;
	case 'R':
		if (rename(a, b) != 0)
			goto effect_failed;
		*done = 1;
		return 0;
	case 'U':
		if (unlink(a) != 0)
			goto effect_failed;
		*done = 1;
		return 0;
	case 'M':
		if (mkdir(a, 0755) != 0)
			goto effect_failed;
		*done = 1;
		return 0;
	}
	/* C, W, A: the data, then the close */
	if (err) {
		close(fd);
		*effect = 1;
		return err;
	}
	return close(fd) ? errno : 0;
effect_failed:
	*effect = 1;
	return errno;
}

/* One line, in one write, to an O_APPEND log. */
static void log_line(int fd, const char *s)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s\n", s);

	if (write(fd, line, (size_t)n) != n)
		_exit(CL_ERR);
}

/*
 * Client c: operations until one fails; logs each.  Never returns.  A
 * call that failed while the daemon was alive was answered: it did
 * nothing.  One that failed after the kill may have been committed by
 * the daemon before it died.
 */
static void client(int c, struct model *m, const struct workload *w,
		   struct shared *sh)
{
	uint64_t x = ((uint64_t)c << 32 | (uint64_t)m->next[c]) * 2654435761u;
	int fd = open(ops_log[c], O_WRONLY | O_APPEND | O_CREAT, 0644);

	x |= 1;
	if (fd < 0)
		_exit(CL_ERR);
	for (long n = m->next[c];; n++) {
		char s[160], line[200];
		int effect, err, killed;
		struct op o;
		long done;

		op_pick(m, w, c, n, &x, &o);
		op_format(&o, s, sizeof(s));
		err = op_run(c, &o, &done, &effect);
		if (err) {
			killed = __atomic_load_n(&sh->killed, __ATOMIC_SEQ_CST);
			snprintf(line, sizeof(line), "? %ld %d %d %d %s", done,
				 effect && killed, err, killed, s);
			log_line(fd, line);
			/* after the kill, the errno is the kernel's for a dead
			 * connection (ENOTCONN, ECONNABORTED): the tree decides
			 * what the call did */
			if (killed)
				_exit(CL_GONE);
			_exit(err == ENOSPC ? CL_FULL : CL_ERR);
		}
		log_line(fd, s);
		op_apply(m, c, &o, op_units(&o));
		__atomic_fetch_add(&sh->answered, 1, __ATOMIC_SEQ_CST);
	}
}

/* ---- the checker ------------------------------------------------------ */

static char *slurp_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *buf;

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	cr_assert(buf);
	for (*len = 0; *len < (size_t)st.st_size;) {
		ssize_t r = read(fd, buf + *len, (size_t)st.st_size - *len);

		cr_assert(r > 0, "%s: read: %s", path,
			  r ? strerror(errno) : "end of file before its size");
		*len += (size_t)r;
	}
	close(fd);
	buf[*len] = 0;
	return buf;
}

/* How the tree at rel differs from want (NULL: absent); NULL if not. */
static const char *differs(const char *rel, const struct ent *want)
{
	static char why[128];
	char p[4096];
	struct stat st;
	const char *r = NULL;
	char *got;
	size_t len;

	snprintf(p, sizeof(p), "%s/%s", M.dir, rel);
	if (lstat(p, &st) != 0)
		return want ? "missing" : NULL;
	if (!want)
		return "there";
	if (want->dir)
		return S_ISDIR(st.st_mode) ? NULL : "not a directory";
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	got = slurp_file(p, &len);
	if (len != want->len) {
		snprintf(why, sizeof(why), "%zu bytes, want %zu", len,
			 want->len);
		r = why;
	} else {
		size_t k = 0;

		while (k < len && got[k] == want->data[k])
			k++;
		if (k < len) {
			snprintf(why, sizeof(why), "differs at byte %zu", k);
			r = why;
		}
	}
	free(got);
	return r;
}

/* Is (c, n)'s record in the shared append file? */
static bool has_record(int c, long n)
{
	char p[4096], want[REC_LEN];
	size_t len;
	bool found = false;
	char *f;

	snprintf(p, sizeof(p), "%s/append", M.dir);
	f = slurp_file(p, &len);
	record(want, c, n);
	for (size_t k = 0; k + REC_LEN <= len && !found; k += REC_LEN)
		found = !memcmp(f + k, want, REC_LEN);
	free(f);
	return found;
}

/*
 * How the tree differs from client c's operation o in up to progress k
 * (NULL: it shows exactly that).  The expected state comes from applying
 * o to a model of only the paths o touches.
 */
static const char *unlike(const struct model *m, int c, const struct op *o,
			  long k)
{
	static char why[160];
	struct model t = { 0 };
	const char *paths[2] = { o->a, o->b }, *r = NULL;

	if (o->kind == 'A')
		return has_record(c, o->n) == (k == 1)
			       ? NULL
			       : k ? "no such record" : "the record is there";
	for (int i = 0; i < 2; i++) {
		const struct ent *e = paths[i][0] ? model_find(m, paths[i])
						  : NULL;

		if (e) {
			struct ent *n = model_add(&t, e->path, e->owner,
						  e->dir);

			n->len = e->len;
			n->data = e->len ? malloc(e->len) : NULL;
			if (e->len)
				memcpy(n->data, e->data, e->len);
		}
	}
	op_apply(&t, c, o, k);
	for (int i = 0; i < 2 && !r; i++) {
		if (paths[i][0] &&
		    (r = differs(paths[i], model_find(&t, paths[i])))) {
			snprintf(why, sizeof(why), "%s %s", paths[i], r);
			r = why;
		}
	}
	model_free(&t);
	return r;
}

/*
 * Client c's operation o failed with err after progress done was
 * answered; if maybe, the call that failed may have been committed in
 * part (whole requests) or whole.  Find the progress the tree shows,
 * write it back to c's log and apply it; returns it.
 */
static long resolve(struct model *m, int c, const struct op *o, long done,
		    int maybe, int err)
{
	/* a create's open makes the name only; its writes do the rest */
	long lim = o->kind == 'C' && done == 0 ? 1 : op_units(o), k = done;
	char s[160], line[200], why[600] = "";
	size_t wl = 0;
	const char *r;
	int fd;

	while ((r = unlike(m, c, o, k)) && maybe && k < lim) {
		wl += (size_t)snprintf(why + wl, sizeof(why) - wl,
				       "; at %ld: %s", k, r);
		if (wl >= sizeof(why))
			wl = sizeof(why) - 1;
		k = op_step(o, k);
	}
	op_format(o, s, sizeof(s));
	cr_assert(!r,
		  "c%d's failed operation '%s' (%s, progress %ld of %ld "
		  "answered%s): the tree shows no outcome it may have%s; "
		  "at %ld: %s",
		  c, s, strerror(err), done, op_units(o),
		  maybe ? ", the rest in flight" : "", why, k, r);
	snprintf(line, sizeof(line), "= %ld %ld\n", o->n, k);
	fd = open(ops_log[c], O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	op_apply(m, c, o, k);
	return k;
}

/*
 * Replay the logs into m (on top of the entries of base).  The failed
 * operation a log ends with is resolved (see resolve).  *inflight and
 * *took count the failed calls that may have taken effect and those that
 * did.
 */
static void model_replay(struct model *m, const struct model *base,
		       int clients, int *inflight, int *took)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < base->n; i++)
		model_add(m, base->e[i].path, -1, base->e[i].dir);
	*inflight = *took = 0;
	for (int c = 0; c < clients; c++) {
		size_t len;
		char *log = slurp_file(ops_log[c], &len), *save = NULL, *l;
		struct op failed;
		int maybe = 0, err = 0;
		long done = 0, k, n;
		bool pending = false;

		for (l = strtok_r(log, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			struct op o;
			int at = 0;
			bool ok;

			if (l[0] == '?') {
				ok = !pending &&
				     sscanf(l, "? %ld %d %d %*d %n", &done,
					    &maybe, &err, &at) == 3 &&
				     at && op_parse(l + at, &failed);
				pending = true;
			} else if (l[0] == '=') {
				ok = pending &&
				     sscanf(l, "= %ld %ld", &n, &k) == 2 &&
				     n == failed.n;
				if (ok)
					op_apply(m, c, &failed, k);
				pending = false;
			} else {
				ok = !pending && op_parse(l, &o);
				if (ok)
					op_apply(m, c, &o, op_units(&o));
			}
			cr_assert(ok, "log of c%d: bad line '%s'", c, l);
		}
		free(log);
		if (!pending)
			continue;
		k = resolve(m, c, &failed, done, maybe, err);
		*inflight += maybe;
		*took += k > done;
	}
}

/* Compare one directory of the tree with the model, recursively. */
static void walk(struct model *m, const char *rel)
{
	char p[4096];
	struct dirent *d;
	DIR *dir;

	snprintf(p, sizeof(p), "%s/%s", M.dir, rel);
	dir = opendir(p);
	cr_assert(dir, "opendir %s: %s", p, strerror(errno));
	while ((d = readdir(dir))) {
		char sub[PATH_LEN + 256];
		struct ent *e;
		const char *why;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 d->d_name);
		if (!strcmp(sub, "append"))
			continue; /* checked by verify_appends */
		e = strlen(sub) < PATH_LEN ? model_find(m, sub) : NULL;
		cr_assert(e, "%s is in the tree, but no operation made it",
			  sub);
		cr_assert(!e->seen, "%s is listed twice", sub);
		e->seen = true;
		why = differs(sub, e);
		cr_assert(!why, "%s (last made so by %s): %s", sub,
			  e->why[0] ? e->why : "the test", why);
		if (e->dir)
			walk(m, sub);
	}
	closedir(dir);
}

/* The shared append file: whole records, each client's in its order. */
static void verify_appends(const struct model *m, int clients)
{
	char p[4096], want[REC_LEN];
	size_t len, next[MAX_CLIENTS] = { 0 };
	char *f;

	snprintf(p, sizeof(p), "%s/append", M.dir);
	f = slurp_file(p, &len);
	cr_assert(len % REC_LEN == 0, "append: %zu bytes, not whole records",
		  len);
	for (size_t k = 0; k < len; k += REC_LEN) {
		int c = -1;
		long n = -1;

		sscanf(f + k, "c%d n%ld", &c, &n);
		cr_assert(c >= 0 && c < clients,
			  "append: record %zu is damaged", k / REC_LEN);
		record(want, c, n);
		cr_assert(!memcmp(f + k, want, REC_LEN),
			  "append: record %zu (c%d %ld) is damaged",
			  k / REC_LEN, c, n);
		cr_assert(next[c] < m->napp[c] && m->app[c][next[c]] == n,
			  "append: record %zu is c%d's A %ld, want its A %ld",
			  k / REC_LEN, c, n,
			  next[c] < m->napp[c] ? m->app[c][next[c]] : -1);
		next[c]++;
	}
	free(f);
	for (int c = 0; c < clients; c++)
		if (next[c] < m->napp[c])
			cr_assert_fail("append: c%d's A %ld is missing", c,
				       m->app[c][next[c]]);
}

/* The whole tree against the model. */
static void verify(struct model *m, int clients)
{
	for (size_t i = 0; i < m->n; i++)
		m->e[i].seen = false;
	walk(m, "");
	for (size_t i = 0; i < m->n; i++) {
		const struct ent *e = &m->e[i];

		cr_assert(e->seen, "%s (made by %s) is missing", e->path,
			  e->why[0] ? e->why : "the test");
	}
	verify_appends(m, clients);
}

/* ---- rounds ------------------------------------------------------------- */

/* The last line of client c's log, for a message. */
static const char *last_line(int c)
{
	static char line[256];
	size_t len;
	char *s = slurp_file(ops_log[c], &len), *nl;

	while (len && s[len - 1] == '\n')
		s[--len] = 0;
	nl = strrchr(s, '\n');
	snprintf(line, sizeof(line), "%s", nl ? nl + 1 : s);
	free(s);
	return line;
}

/* The directories every client shares, an empty append file, and the
 * model of what the tree then holds (lost+found and these). */
static void populate(struct model *base)
{
	char p[4096];
	int fd;

	for (int i = 1; i < SHARED_DIRS; i++) {
		snprintf(p, sizeof(p), "%s/%s", M.dir, shared_dirs[i]);
		cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p,
			     strerror(errno));
	}
	snprintf(p, sizeof(p), "%s/append", M.dir);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert(fd >= 0, "%s: %s", p, strerror(errno));
	close(fd);
	memset(base, 0, sizeof(*base));
	{
		DIR *d = opendir(M.dir);
		struct dirent *de;

		cr_assert(d);
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, "..") ||
			    !strcmp(de->d_name, "append"))
				continue;
			/* the model holds no data for these */
			cr_assert_eq(de->d_type, DT_DIR,
				     "%s: a fresh image holds only directories",
				     de->d_name);
			model_add(base, de->d_name, -1, true);
		}
		closedir(d);
	}
}

/*
 * The clients run until `target` more operations are answered (or all
 * of them stopped on a full image); then the daemon is killed.  Returns
 * how many clients stopped with ENOSPC before the kill.
 */
static int run_until_kill(struct model *m, const struct workload *w,
			  struct shared *sh, long target)
{
	long base = sh->answered, last = base;
	int stopped = 0, full = 0, st[MAX_CLIENTS];
	time_t progress = time(NULL);

	for (int c = 0; c < w->clients; c++) {
		client_pid[c] = fork();
		cr_assert(client_pid[c] >= 0);
		if (client_pid[c] == 0) {
			in_client = true;
			closefrom(3);
			client(c, m, w, sh);
		}
	}
	while (stopped < w->clients) {
		long now = __atomic_load_n(&sh->answered, __ATOMIC_SEQ_CST);

		if (now - base >= target)
			break;
		if (now != last) {
			last = now;
			progress = time(NULL);
		}
		cr_assert(time(NULL) - progress < STALL_SECONDS,
			  "no operation answered for %d s (%ld answered this "
			  "round)",
			  STALL_SECONDS, now - base);
		for (int c = 0; c < w->clients; c++) {
			pid_t p = client_pid[c];

			if (p <= 0 || waitpid(p, &st[c], WNOHANG) != p)
				continue;
			client_pid[c] = 0;
			stopped++;
			cr_assert(WIFEXITED(st[c]) &&
					  WEXITSTATUS(st[c]) == CL_FULL,
				  "c%d stopped before the kill (status %#x): "
				  "%s",
				  c, st[c], last_line(c));
			full++;
		}
		usleep(500);
	}
	__atomic_store_n(&sh->killed, 1, __ATOMIC_SEQ_CST);
	cr_assert_eq(kill(M.fg, SIGKILL), 0);
	cr_assert_eq(mnt_wait(&M), 128 + SIGKILL,
		     "mount.pmfs died before the kill");
	for (int c = 0; c < w->clients; c++) {
		if (client_pid[c] <= 0)
			continue;
		cr_assert_eq(waitpid(client_pid[c], &st[c], 0), client_pid[c]);
		client_pid[c] = 0;
		cr_assert(WIFEXITED(st[c]) && (WEXITSTATUS(st[c]) == CL_GONE ||
					       WEXITSTATUS(st[c]) == CL_FULL),
			  "c%d (status %#x): %s", c, st[c], last_line(c));
		full += WEXITSTATUS(st[c]) == CL_FULL;
	}
	return full;
}

/*
 * Rounds of: clients until kill_after[r] more answered operations (or a
 * full image), SIGKILL the daemon, detach, remount -v (recovery),
 * resolve the operations in flight, compare the tree with the model.
 * Then a clean unmount, fsck.pmfs -fn, and a clean mount.
 */
static void kill_rounds(const struct workload *w, const long *kill_after,
			int rounds)
{
	char out[8192], err[8192];
	struct model base, m;
	struct shared *sh;
	int r, inflight, took;

	for (int c = 0; c < w->clients; c++) {
		snprintf(ops_log[c], sizeof(ops_log[c]),
			 "/dev/shm/pmfs-kill-ops.%d.%d", getpid(), c);
		unlink(ops_log[c]);
		cr_assert_eq(close(open(ops_log[c], O_WRONLY | O_CREAT, 0644)),
			     0);
	}
	snprintf(mount_log, sizeof(mount_log), "/dev/shm/pmfs-kill-mount.%d",
		 getpid());
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	mnt_mkfs(&M, w->img_size);
	mnt_start(&M, NULL, NULL, NULL);
	populate(&base);
	model_replay(&m, &base, w->clients, &inflight, &took);
	for (int round = 0; round < rounds; round++) {
		long before = sh->answered;
		int f;

		sh->killed = 0;
		f = run_until_kill(&m, w, sh, kill_after[round]);
		cr_assert(w->fill || !f,
			  "ENOSPC on a %ju MiB image with at most %d files of "
			  "up to 64 KiB per client",
			  (uintmax_t)(w->img_size >> 20), w->max_files);
		/* the connection is gone; the mount point must be freed */
		cr_assert_eq(umount2(M.dir, MNT_DETACH), 0, "umount: %s",
			     strerror(errno));
		mnt_start(&M, "-v", NULL, mount_log);
		mnt_slurp(mount_log, out, sizeof(out));
		cr_assert(strstr(out, "recovery mount"),
			  "mount -v after a kill did not report recovery:\n%s",
			  out);
		model_free(&m);
		model_replay(&m, &base, w->clients, &inflight, &took);
		verify(&m, w->clients);
		cr_log_info("round %d: killed after %ld answered operations%s; "
			    "%d in flight, %d of them took effect; %zu names, "
			    "all there",
			    round, sh->answered - before,
			    f ? " (image full)" : "", inflight, took, m.n);
	}
	mnt_umount(&M);
	r = mnt_tool(out, sizeof(out), err, sizeof(err), "fsck.pmfs", "-fn",
		     M.img, NULL);
	cr_assert_eq(r, 0, "fsck.pmfs -fn after the kills: %d\n%s%s", r, out,
		     err);
	/* and a clean mount after that, with the same tree */
	mnt_start(&M, "-v", NULL, mount_log);
	mnt_slurp(mount_log, out, sizeof(out));
	cr_assert(strstr(out, "clean mount"), "mount -v: %s", out);
	model_free(&m);
	model_replay(&m, &base, w->clients, &inflight, &took);
	verify(&m, w->clients);
	mnt_umount(&M);
	model_free(&m);
	model_free(&base);
	munmap(sh, sizeof(*sh));
}

TestSuite(kill, .init = setup, .fini = teardown, .timeout = 300);

static const struct workload one = {
	.clients = 1, .img_size = 64ull << 20, .max_files = 200,
};
static const struct workload four = {
	.clients = 4, .img_size = 64ull << 20, .max_files = 100,
};

/* Killed almost at once: the first requests are in flight. */
Test(kill, early)
{
	static const long k[] = { 1 };

	kill_rounds(&one, k, 1);
}

Test(kill, after_300_ops)
{
	static const long k[] = { 300 };

	kill_rounds(&one, k, 1);
}

Test(kill, after_3000_ops)
{
	static const long k[] = { 3000 };

	kill_rounds(&one, k, 1);
}

/* Killed again and again on the same image, recovery after recovery. */
Test(kill, repeatedly)
{
	static const long k[] = { 50, 700, 10, 1500, 200 };

	kill_rounds(&one, k, 5);
}

/* The workload runs until ENOSPC stops it; killed then; all still there. */
Test(kill, full_image)
{
	static const struct workload w = {
		.clients = 1, .img_size = 8ull << 20, .max_files = 1 << 30,
		.fill = true,
	};
	static const long k[] = { LONG_MAX };

	kill_rounds(&w, k, 1);
}

/* Four clients in the same directories, killed again and again. */
Test(kill, four_clients)
{
	static const long k[] = { 400, 3000, 20, 1500, 800, 1, 2500, 100 };

	kill_rounds(&four, k, 8);
}

/* Four clients fill the image together. */
Test(kill, four_clients_full_image)
{
	static const struct workload w = {
		.clients = 4, .img_size = 8ull << 20, .max_files = 1 << 30,
		.fill = true,
	};
	static const long k[] = { LONG_MAX };

	kill_rounds(&w, k, 1);
}
