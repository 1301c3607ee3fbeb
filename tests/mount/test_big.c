/*
 * test_big.c - big and deep on a real mount: 100k entries in one
 * directory (create, readdir and count, remount, stat each, readdir
 * again), a sparse file over 4 GiB, names of 255 bytes (accepted) and 256
 * (ENAMETOOLONG from every call that takes a name), and paths up to
 * PATH_MAX: 500 nested directories and then 255-byte names, built by
 * relative mkdir + chdir, until an absolute path of 4095 bytes opens and
 * one of 4096 is refused.
 */
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include "mnt.h"

#define IMG_SIZE (1ull << 30) /* sparse on /dev/shm */
#define NFILES 100000

static struct mnt M;

static void setup(void)
{
	mnt_need_fuse();
	mnt_mkfs(&M, IMG_SIZE);
	mnt_start(&M, NULL, NULL, NULL);
}

static void teardown(void)
{
	mnt_teardown(&M);
}

static void remount(void)
{
	mnt_umount(&M);
	mnt_start(&M, NULL, NULL, NULL);
}

TestSuite(big, .init = setup, .fini = teardown, .timeout = 600);

/* readdir of dir: the number of entries other than . and ..; each name
 * "e<i>" (i < n) must be seen exactly once. */
static long count_dir(const char *dir, long n)
{
	unsigned char *seen = calloc((size_t)n, 1);
	DIR *d = opendir(dir);
	struct dirent *e;
	long count = 0;

	cr_assert(d && seen, "opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		char *end;
		long i;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		count++;
		cr_assert_eq(e->d_name[0], 'e', "unexpected entry %s", e->d_name);
		i = strtol(e->d_name + 1, &end, 10);
		cr_assert(!*end && i >= 0 && i < n, "unexpected %s", e->d_name);
		cr_assert_eq(seen[i], 0, "%s listed twice", e->d_name);
		seen[i] = 1;
	}
	closedir(d);
	free(seen);
	return count;
}

Test(big, hundred_thousand_entries_in_one_directory)
{
	char *dir = mnt_path(&M, "big");
	char p[PATH_MAX];
	int dfd;

	cr_assert_eq(mkdir(dir, 0755), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert(dfd >= 0);
	for (long i = 0; i < NFILES; i++) {
		int fd;

		snprintf(p, sizeof(p), "e%ld", i);
		fd = openat(dfd, p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
		/* every 1000th gets its number as content */
		if (i % 1000 == 0)
			cr_assert_eq(write(fd, p, strlen(p)), (ssize_t)strlen(p));
		close(fd);
	}
	close(dfd);
	cr_assert_eq(count_dir(dir, NFILES), NFILES);
	remount();
	/* cold: every stat is a lookup in the daemon */
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert(dfd >= 0);
	for (long i = 0; i < NFILES; i++) {
		struct stat st;

		snprintf(p, sizeof(p), "e%ld", i);
		cr_assert_eq(fstatat(dfd, p, &st, 0), 0, "stat %s: %s", p,
			     strerror(errno));
		cr_assert(S_ISREG(st.st_mode));
		cr_assert_eq(st.st_size,
			     i % 1000 == 0 ? (off_t)strlen(p) : 0, "%s", p);
	}
	close(dfd);
	cr_assert_eq(count_dir(dir, NFILES), NFILES);
	{
		struct stat st;

		cr_assert_eq(stat(dir, &st), 0);
		cr_assert_eq(st.st_nlink, 2);
	}
	free(dir);
}

Test(big, sparse_file_over_4_gib)
{
	const off_t at = 5ll << 30;
	char *p = mnt_path(&M, "sparse");
	char buf[8192], zero[4096] = { 0 };
	struct stat st;
	int fd = open(p, O_RDWR | O_CREAT, 0644);

	cr_assert(fd >= 0);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "start", 5);
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), at), (ssize_t)sizeof(buf));
	cr_assert_eq(pwrite(fd, "low", 3, 4096), 3);
	close(fd);
	remount();
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, at + (off_t)sizeof(buf));
	cr_assert(st.st_blocks < 1024, "sparse file has %jd blocks",
		  (intmax_t)st.st_blocks);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(pread(fd, buf, sizeof(buf), at), (ssize_t)sizeof(buf));
	cr_assert(!memcmp(buf, "startxxx", 8));
	cr_assert_eq(buf[sizeof(buf) - 1], 'x');
	/* the hole reads as zeros, across the 4 GiB line */
	cr_assert_eq(pread(fd, buf, sizeof(zero), (4ll << 30) - 2048),
		     (ssize_t)sizeof(zero));
	cr_assert(!memcmp(buf, zero, sizeof(zero)));
	cr_assert_eq(lseek(fd, 8192, SEEK_DATA), at);
	/* reading past the end: 0 bytes */
	cr_assert_eq(pread(fd, buf, 10, at + (off_t)sizeof(buf)), 0);
	close(fd);
	/* truncate down across 4 GiB, then up again: zeros */
	cr_assert_eq(truncate(p, (4ll << 30) + 1), 0);
	cr_assert_eq(truncate(p, at + 100), 0);
	fd = open(p, O_RDONLY);
	cr_assert_eq(pread(fd, buf, 100, at), 100);
	cr_assert(!memcmp(buf, zero, 100));
	close(fd);
	free(p);
}

static int stat_errno(const char *p)
{
	struct stat st;

	return stat(p, &st) ? errno : 0;
}

static char *name_of(size_t len, char c)
{
	char *n = malloc(len + 1);

	cr_assert(n);
	memset(n, c, len);
	n[len] = 0;
	return n;
}

Test(big, name_length_limits)
{
	char *n255 = name_of(255, 'a'), *m255 = name_of(255, 'b');
	char *n256 = name_of(256, 'c');
	char *a = mnt_path(&M, n255), *b = mnt_path(&M, m255);
	char *c = mnt_path(&M, n256);
	struct stat st;
	struct dirent *e;
	bool found = false;
	DIR *d;
	int fd;

	fd = open(a, O_WRONLY | O_CREAT, 0644);
	cr_assert(fd >= 0, "255-byte name: %s", strerror(errno));
	close(fd);
	cr_assert_eq(stat(a, &st), 0);
	cr_assert_eq(rename(a, b), 0);
	cr_assert_eq(link(b, a), 0);
	d = opendir(M.dir);
	cr_assert(d);
	while ((e = readdir(d)))
		found |= strlen(e->d_name) == 255 && e->d_name[0] == 'b';
	closedir(d);
	cr_assert(found, "the 255-byte name is not listed");

	errno = 0;
	cr_assert_eq(open(c, O_WRONLY | O_CREAT, 0644), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
	cr_assert_eq(stat_errno(c), ENAMETOOLONG);
	cr_assert_eq(mkdir(c, 0755), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
	cr_assert_eq(rename(b, c), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
	cr_assert_eq(link(b, c), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
	cr_assert_eq(symlink("x", c), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
	cr_assert_eq(stat(b, &st), 0, "the source is still there");
	remount();
	cr_assert_eq(stat(a, &st), 0);
	cr_assert_eq(st.st_nlink, 2);
	free(n255);
	free(m255);
	free(n256);
	free(a);
	free(b);
	free(c);
}

/* mkdir name + chdir into it (relative, so no path limit applies). */
static void descend(const char *name)
{
	cr_assert_eq(mkdir(name, 0755), 0, "mkdir (%zu bytes): %s",
		     strlen(name), strerror(errno));
	cr_assert_eq(chdir(name), 0);
}

Test(big, path_max)
{
	static char path[PATH_MAX + 16];
	size_t len;
	char *n;
	struct stat st;
	int fd;

	cr_assert_eq(chdir(M.dir), 0);
	len = (size_t)snprintf(path, sizeof(path), "%s", M.dir);
	/* deep: 500 levels of "d" */
	for (int i = 0; i < 500; i++) {
		descend("d");
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/d");
	}
	/* then long names until a 4095-byte path is one name away */
	while (PATH_MAX - 1 - len > 256) {
		size_t rem = PATH_MAX - 1 - len;
		size_t dl = rem - 3 < 255 ? rem - 3 : 255;

		n = name_of(dl, 'p');
		descend(n);
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s", n);
		free(n);
	}
	/* a file whose absolute path is exactly PATH_MAX - 1 bytes */
	n = name_of(PATH_MAX - 1 - len - 1, 'f');
	fd = open(n, O_WRONLY | O_CREAT, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "deep", 4), 4);
	close(fd);
	len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s", n);
	free(n);
	cr_assert_eq(len, PATH_MAX - 1);
	cr_assert_eq(chdir("/"), 0);
	remount();
	/* the whole path in one call, resolved component by component */
	cr_assert_eq(stat(path, &st), 0, "stat of a %zu-byte path: %s", len,
		     strerror(errno));
	cr_assert_eq(st.st_size, 4);
	fd = open(path, O_RDONLY);
	cr_assert(fd >= 0);
	close(fd);
	/* one byte more is refused by the kernel */
	path[len] = 'g';
	path[len + 1] = 0;
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
}
