/*
 * vm_posix.c - end-to-end POSIX checks on a mounted pmfs, for the guests
 * (a plain program: the Criterion mount suites need an image on tmpfs and
 * their own daemon; this one runs on whatever is mounted at DIR, a devdax
 * namespace or a file on -o dax).
 *
 *   vm_posix DIR          every check below on a fresh folder DIR/posix
 *   vm_posix fill DIR     write a known tree DIR/keep (files, a hard link,
 *                         a symlink, an xattr, a sparse file)
 *   vm_posix verify DIR   check DIR/keep is exactly that tree (after a
 *                         remount: data intact across unmount and mount)
 *
 * One line per check, "ok - posix NAME" or "FAIL - posix NAME: why" (the
 * format tests/vm/lib.sh prints); exit 1 if any failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

static int failures;
static const char *cur; /* the check being run */
static char root[4096];

/* Fail the current check with a message; returns -1 for `return fail()`. */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL - posix %s: ", cur);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures++;
	return -1;
}

#define NEED(cond, ...)                          \
	do {                                     \
		if (!(cond))                     \
			return fail(__VA_ARGS__); \
	} while (0)

/* root/rel in a static buffer (one of four, for calls with two paths). */
static const char *P(const char *rel)
{
	static char b[4][4096];
	static int i;

	int n;

	i = (i + 1) % 4;
	n = snprintf(b[i], sizeof(b[i]), "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof(b[i])) {
		fprintf(stderr, "vm_posix: path too long: %s/%s\n", root, rel);
		exit(2);
	}
	return b[i];
}

static unsigned char pat(uint64_t seed, uint64_t k)
{
	return (unsigned char)((seed * 131 + k * 7 + (k >> 12)) % 251);
}

/* Write len pattern bytes at off through one pwrite; 0 or -1. */
static int put(const char *rel, int flags, uint64_t seed, off_t off,
	       size_t len)
{
	unsigned char *b = malloc(len ? len : 1);
	int fd = open(P(rel), O_WRONLY | flags, 0644);
	ssize_t w;

	if (!b || fd < 0) {
		free(b);
		if (fd >= 0)
			close(fd);
		return fail("open %s: %s", rel, strerror(errno));
	}
	for (size_t k = 0; k < len; k++)
		b[k] = pat(seed, (uint64_t)off + k);
	w = pwrite(fd, b, len, off);
	free(b);
	if (w != (ssize_t)len) {
		close(fd);
		return fail("pwrite %s: %zd of %zu: %s", rel, w, len,
			    strerror(errno));
	}
	if (close(fd) != 0)
		return fail("close %s: %s", rel, strerror(errno));
	return 0;
}

/* The file is exactly `size` bytes: pattern `seed` in [lo, hi), zeros
 * elsewhere (holes, truncated-up tails). */
static int same(const char *rel, uint64_t seed, uint64_t lo, uint64_t hi,
		uint64_t size)
{
	static unsigned char b[1 << 16];
	struct stat st;
	uint64_t off = 0;
	int fd = open(P(rel), O_RDONLY);

	if (fd < 0)
		return fail("open %s: %s", rel, strerror(errno));
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
		close(fd);
		return fail("%s: size %lld, expected %llu", rel,
			    (long long)st.st_size, (unsigned long long)size);
	}
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b));

		if (n < 0) {
			close(fd);
			return fail("read %s: %s", rel, strerror(errno));
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++, off++) {
			unsigned char want =
				off >= lo && off < hi ? pat(seed, off) : 0;

			if (b[i] != want) {
				close(fd);
				return fail("%s: byte %llu is %u, expected %u",
					    rel, (unsigned long long)off, b[i],
					    want);
			}
		}
	}
	close(fd);
	NEED(off == size, "%s: read %llu bytes of %llu", rel,
	     (unsigned long long)off, (unsigned long long)size);
	return 0;
}

static int t_write_read(void)
{
	static const size_t lens[] = { 0, 1, 4095, 4096, 4097, 65536, 1048583 };
	char n[32];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		snprintf(n, sizeof(n), "w%zu", i);
		if (put(n, O_CREAT | O_EXCL, i + 1, 0, lens[i]) ||
		    same(n, i + 1, 0, lens[i], lens[i]))
			return -1;
	}
	return 0;
}

static int t_overwrite(void)
{
	unsigned char b[3 * 4096];
	int fd;

	/* 3 blocks of seed 1, then 5000 bytes of seed 2 across two of them */
	if (put("ow", O_CREAT | O_EXCL, 1, 0, sizeof(b)) ||
	    put("ow", 0, 2, 3000, 5000))
		return -1;
	fd = open(P("ow"), O_RDONLY);
	NEED(fd >= 0, "open: %s", strerror(errno));
	if (read(fd, b, sizeof(b)) != (ssize_t)sizeof(b) || read(fd, b, 1)) {
		close(fd);
		return fail("ow is not %zu bytes", sizeof(b));
	}
	close(fd);
	for (size_t k = 0; k < sizeof(b); k++)
		NEED(b[k] == pat(k >= 3000 && k < 8000 ? 2 : 1, k),
		     "byte %zu is %u after a partial overwrite", k, b[k]);
	return 0;
}

static int t_append(void)
{
	for (int i = 0; i < 20; i++)
		if (put("ap", O_CREAT | O_APPEND, 3, i * 1000, 1000))
			return -1;
	return same("ap", 3, 0, 20000, 20000);
}

static int t_truncate(void)
{
	if (put("tr", O_CREAT | O_EXCL, 4, 0, 10000))
		return -1;
	NEED(truncate(P("tr"), 5000) == 0, "truncate down: %s", strerror(errno));
	if (same("tr", 4, 0, 5000, 5000))
		return -1;
	NEED(truncate(P("tr"), 9000) == 0, "truncate up: %s", strerror(errno));
	return same("tr", 4, 0, 5000, 9000);
}

static int t_sparse(void)
{
	struct stat st;

	if (put("sp", O_CREAT | O_EXCL, 5, 10 << 20, 4096))
		return -1;
	NEED(stat(P("sp"), &st) == 0, "stat: %s", strerror(errno));
	NEED(st.st_blocks < 64, "a 4 KiB write at 10 MiB uses %lld sectors",
	     (long long)st.st_blocks);
	return same("sp", 5, 10 << 20, (10 << 20) + 4096, (10 << 20) + 4096);
}

static int t_dirs(void)
{
	struct stat st;

	NEED(mkdir(P("d1"), 0755) == 0, "mkdir: %s", strerror(errno));
	NEED(mkdir(P("d1/d2"), 0700) == 0, "mkdir nested: %s", strerror(errno));
	NEED(mkdir(P("d1"), 0755) != 0 && errno == EEXIST, "mkdir twice: %s",
	     strerror(errno));
	NEED(rmdir(P("d1")) != 0 && errno == ENOTEMPTY,
	     "rmdir of a non-empty dir: %s", strerror(errno));
	NEED(stat(P("d1"), &st) == 0 && st.st_nlink == 3,
	     "d1 has %lu links, expected 3", (unsigned long)st.st_nlink);
	NEED(stat(P("d1/d2"), &st) == 0 && (st.st_mode & 07777) == 0700,
	     "d1/d2 mode %o", st.st_mode & 07777);
	NEED(rmdir(P("d1/d2")) == 0 && rmdir(P("d1")) == 0, "rmdir: %s",
	     strerror(errno));
	NEED(stat(P("d1"), &st) != 0 && errno == ENOENT, "d1 still there");
	return 0;
}

static int t_rename(void)
{
	if (put("ra", O_CREAT | O_EXCL, 6, 0, 7000) ||
	    put("rb", O_CREAT | O_EXCL, 7, 0, 3000))
		return -1;
	NEED(rename(P("ra"), P("rb")) == 0, "rename over: %s", strerror(errno));
	NEED(access(P("ra"), F_OK) != 0 && errno == ENOENT, "ra still there");
	if (same("rb", 6, 0, 7000, 7000))
		return -1;
	NEED(mkdir(P("rd"), 0755) == 0 && rename(P("rb"), P("rd/rb")) == 0,
	     "rename into a dir: %s", strerror(errno));
	NEED(rename(P("rd"), P("re")) == 0, "rename a dir: %s",
	     strerror(errno));
	return same("re/rb", 6, 0, 7000, 7000);
}

static int t_rename2(void)
{
	if (put("xa", O_CREAT | O_EXCL, 8, 0, 100) ||
	    put("xb", O_CREAT | O_EXCL, 9, 0, 200))
		return -1;
	NEED(syscall(SYS_renameat2, AT_FDCWD, P("xa"), AT_FDCWD, P("xb"),
		     RENAME_NOREPLACE) != 0 &&
		     errno == EEXIST,
	     "RENAME_NOREPLACE over a file: %s", strerror(errno));
	NEED(syscall(SYS_renameat2, AT_FDCWD, P("xa"), AT_FDCWD, P("xb"),
		     RENAME_EXCHANGE) == 0,
	     "RENAME_EXCHANGE: %s", strerror(errno));
	if (same("xa", 9, 0, 200, 200) || same("xb", 8, 0, 100, 100))
		return -1;
	return 0;
}

static int t_links(void)
{
	struct stat st;
	char buf[256];
	ssize_t n;

	if (put("la", O_CREAT | O_EXCL, 10, 0, 5000))
		return -1;
	NEED(link(P("la"), P("lb")) == 0, "link: %s", strerror(errno));
	NEED(stat(P("la"), &st) == 0 && st.st_nlink == 2, "nlink %lu",
	     (unsigned long)st.st_nlink);
	NEED(unlink(P("la")) == 0, "unlink: %s", strerror(errno));
	if (same("lb", 10, 0, 5000, 5000))
		return -1;
	NEED(symlink("lb", P("ls")) == 0, "symlink: %s", strerror(errno));
	n = readlink(P("ls"), buf, sizeof(buf));
	NEED(n == 2 && !memcmp(buf, "lb", 2), "readlink: %zd", n);
	NEED(lstat(P("ls"), &st) == 0 && S_ISLNK(st.st_mode), "lstat");
	return same("ls", 10, 0, 5000, 5000);
}

static int t_unlink_open(void)
{
	char b[100];
	int fd;

	if (put("uo", O_CREAT | O_EXCL, 11, 0, 100))
		return -1;
	fd = open(P("uo"), O_RDONLY);
	NEED(fd >= 0, "open: %s", strerror(errno));
	if (unlink(P("uo")) != 0) {
		close(fd);
		return fail("unlink: %s", strerror(errno));
	}
	if (read(fd, b, 100) != 100 || b[99] != (char)pat(11, 99)) {
		close(fd);
		return fail("reading an unlinked open file");
	}
	close(fd);
	NEED(access(P("uo"), F_OK) != 0 && errno == ENOENT, "still there");
	return 0;
}

static int t_attrs(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 },
				  { 1200000000, 987654321 } };
	struct stat st;

	if (put("at", O_CREAT | O_EXCL, 12, 0, 10))
		return -1;
	NEED(chmod(P("at"), 0640) == 0, "chmod: %s", strerror(errno));
	NEED(chown(P("at"), 1234, 5678) == 0, "chown: %s", strerror(errno));
	NEED(utimensat(AT_FDCWD, P("at"), ts, 0) == 0, "utimensat: %s",
	     strerror(errno));
	NEED(stat(P("at"), &st) == 0, "stat: %s", strerror(errno));
	NEED((st.st_mode & 07777) == 0640, "mode %o", st.st_mode & 07777);
	NEED(st.st_uid == 1234 && st.st_gid == 5678, "owner %u:%u",
	     st.st_uid, st.st_gid);
	NEED(st.st_mtim.tv_sec == 1200000000 &&
		     st.st_mtim.tv_nsec == 987654321,
	     "mtime %lld.%09ld", (long long)st.st_mtim.tv_sec,
	     st.st_mtim.tv_nsec);
	return 0;
}

static int t_xattr(void)
{
	char v[64], list[256];
	ssize_t n;

	if (put("xt", O_CREAT | O_EXCL, 13, 0, 1))
		return -1;
	NEED(setxattr(P("xt"), "user.pmfs", "value-1", 7, XATTR_CREATE) == 0,
	     "setxattr: %s", strerror(errno));
	NEED(setxattr(P("xt"), "user.pmfs", "v2", 2, XATTR_CREATE) != 0 &&
		     errno == EEXIST,
	     "XATTR_CREATE twice: %s", strerror(errno));
	n = getxattr(P("xt"), "user.pmfs", v, sizeof(v));
	NEED(n == 7 && !memcmp(v, "value-1", 7), "getxattr: %zd", n);
	n = listxattr(P("xt"), list, sizeof(list));
	NEED(n == 10 && !strcmp(list, "user.pmfs"), "listxattr: %zd", n);
	NEED(removexattr(P("xt"), "user.pmfs") == 0, "removexattr: %s",
	     strerror(errno));
	NEED(getxattr(P("xt"), "user.pmfs", v, sizeof(v)) < 0 &&
		     errno == ENODATA,
	     "getxattr after remove: %s", strerror(errno));
	return 0;
}

static int t_readdir(void)
{
	enum { N = 500 };
	static char seen[N];
	struct dirent *d;
	int count = 0, fd;
	char n[64];
	DIR *dh;

	NEED(mkdir(P("many"), 0755) == 0, "mkdir: %s", strerror(errno));
	for (int i = 0; i < N; i++) {
		snprintf(n, sizeof(n), "many/entry-with-a-longer-name-%d", i);
		fd = open(P(n), O_WRONLY | O_CREAT | O_EXCL, 0644);
		NEED(fd >= 0, "create %s: %s", n, strerror(errno));
		close(fd);
	}
	dh = opendir(P("many"));
	NEED(dh, "opendir: %s", strerror(errno));
	while ((d = readdir(dh))) {
		int i;

		if (d->d_name[0] == '.')
			continue;
		if (sscanf(d->d_name, "entry-with-a-longer-name-%d", &i) != 1 ||
		    i < 0 || i >= N || seen[i]++) {
			closedir(dh);
			return fail("unexpected or repeated entry %s",
				    d->d_name);
		}
		count++;
	}
	closedir(dh);
	NEED(count == N, "%d entries, expected %d", count, N);
	for (int i = 0; i < N; i += 2) {
		snprintf(n, sizeof(n), "many/entry-with-a-longer-name-%d", i);
		NEED(unlink(P(n)) == 0, "unlink %s: %s", n, strerror(errno));
	}
	count = 0;
	dh = opendir(P("many"));
	NEED(dh, "opendir: %s", strerror(errno));
	while ((d = readdir(dh)))
		count += d->d_name[0] != '.';
	closedir(dh);
	NEED(count == N / 2, "%d entries after unlinking half", count);
	return 0;
}

static int t_errors(void)
{
	int fd;

	if (put("ex", O_CREAT | O_EXCL, 14, 0, 1))
		return -1;
	fd = open(P("ex"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	NEED(fd < 0 && errno == EEXIST, "O_EXCL on an existing file: %s",
	     strerror(errno));
	NEED(open(P("nope"), O_RDONLY) < 0 && errno == ENOENT,
	     "missing file: %s", strerror(errno));
	NEED(mkdir(P("ex/sub"), 0755) != 0 && errno == ENOTDIR,
	     "mkdir under a file: %s", strerror(errno));
	NEED(rmdir(P("ex")) != 0 && errno == ENOTDIR, "rmdir of a file: %s",
	     strerror(errno));
	return 0;
}

static int t_fsync_statfs(void)
{
	struct statvfs a, b;
	int fd;

	NEED(statvfs(root, &a) == 0, "statvfs: %s", strerror(errno));
	NEED(a.f_bsize == 4096 && a.f_blocks > 0 && a.f_bfree <= a.f_blocks,
	     "statvfs: bsize %lu, blocks %llu, free %llu", a.f_bsize,
	     (unsigned long long)a.f_blocks, (unsigned long long)a.f_bfree);
	if (put("fs", O_CREAT | O_EXCL, 15, 0, 4 << 20))
		return -1;
	fd = open(P("fs"), O_WRONLY);
	NEED(fd >= 0, "open: %s", strerror(errno));
	if (fsync(fd) != 0 || fdatasync(fd) != 0) {
		close(fd);
		return fail("fsync: %s", strerror(errno));
	}
	close(fd);
	NEED(statvfs(root, &b) == 0, "statvfs: %s", strerror(errno));
	NEED(a.f_bfree - b.f_bfree >= 1024,
	     "4 MiB written, free blocks went from %llu to %llu",
	     (unsigned long long)a.f_bfree, (unsigned long long)b.f_bfree);
	return 0;
}

static int t_fifo(void)
{
	struct stat st;

	NEED(mkfifo(P("fifo"), 0600) == 0, "mkfifo: %s", strerror(errno));
	NEED(stat(P("fifo"), &st) == 0 && S_ISFIFO(st.st_mode), "not a fifo");
	return 0;
}

/* ---- fill / verify: a tree that must survive unmount and mount ------- */

static int t_fill(void)
{
	NEED(mkdir(P("keep"), 0755) == 0 && mkdir(P("keep/sub"), 0750) == 0,
	     "mkdir: %s", strerror(errno));
	if (put("keep/a", O_CREAT | O_EXCL, 21, 0, 123457) ||
	    put("keep/sub/b", O_CREAT | O_EXCL, 22, 0, 4096) ||
	    put("keep/sparse", O_CREAT | O_EXCL, 23, 3 << 20, 100))
		return -1;
	NEED(link(P("keep/a"), P("keep/sub/a-link")) == 0, "link: %s",
	     strerror(errno));
	NEED(symlink("sub/b", P("keep/s")) == 0, "symlink: %s",
	     strerror(errno));
	NEED(setxattr(P("keep/sub/b"), "user.k", "kept", 4, 0) == 0,
	     "setxattr: %s", strerror(errno));
	return 0;
}

static int t_verify(void)
{
	struct stat st;
	char v[16];

	if (same("keep/a", 21, 0, 123457, 123457) ||
	    same("keep/sub/b", 22, 0, 4096, 4096) ||
	    same("keep/sparse", 23, 3 << 20, (3 << 20) + 100, (3 << 20) + 100) ||
	    same("keep/s", 22, 0, 4096, 4096))
		return -1;
	NEED(stat(P("keep/sub/a-link"), &st) == 0 && st.st_nlink == 2,
	     "hard link: nlink %lu", (unsigned long)st.st_nlink);
	NEED(stat(P("keep/sub"), &st) == 0 && (st.st_mode & 07777) == 0750,
	     "keep/sub mode %o", st.st_mode & 07777);
	NEED(getxattr(P("keep/sub/b"), "user.k", v, sizeof(v)) == 4 &&
		     !memcmp(v, "kept", 4),
	     "xattr lost");
	return 0;
}

struct vp_test {
	const char *name;
	int (*fn)(void);
};

static void run(const struct vp_test *t)
{
	cur = t->name;
	if (t->fn() == 0)
		printf("ok - posix %s\n", t->name);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct vp_test all[] = {
		{ "write-read", t_write_read },
		{ "overwrite", t_overwrite },
		{ "append", t_append },
		{ "truncate", t_truncate },
		{ "sparse", t_sparse },
		{ "dirs", t_dirs },
		{ "rename", t_rename },
		{ "rename-exchange-noreplace", t_rename2 },
		{ "links", t_links },
		{ "unlink-open", t_unlink_open },
		{ "attrs", t_attrs },
		{ "xattr", t_xattr },
		{ "readdir-500", t_readdir },
		{ "errors", t_errors },
		{ "fsync-statfs", t_fsync_statfs },
		{ "fifo", t_fifo },
	};
	static const struct vp_test fill = { "fill", t_fill };
	static const struct vp_test verify = { "verify", t_verify };

	if (argc == 3 && !strcmp(argv[1], "fill")) {
		snprintf(root, sizeof(root), "%s", argv[2]);
		run(&fill);
	} else if (argc == 3 && !strcmp(argv[1], "verify")) {
		snprintf(root, sizeof(root), "%s", argv[2]);
		run(&verify);
	} else if (argc == 2) {
		snprintf(root, sizeof(root), "%s/posix", argv[1]);
		cur = "setup";
		if (mkdir(root, 0755) != 0) {
			fail("mkdir %s: %s", root, strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			run(&all[i]);
	} else {
		fprintf(stderr, "usage: vm_posix DIR | vm_posix fill|verify DIR\n");
		return 2;
	}
	return failures ? 1 : 0;
}
