/*
 * test_semantics.c - what applications expect of a Linux filesystem
 * beyond POSIX conformance, on a real pmfs mount: a directory listing
 * ends and lists every name that stayed exactly once while other names
 * are renamed away and back (Linux's generic/736); once a write returned
 * (direct, also asynchronous, buffered, through mmap, copy_file_range)
 * every later read sees it (generic/451); trusted.* xattr names are
 * listed only to callers with CAP_SYS_ADMIN; fsck.pmfs on the mounted
 * filesystem warns (-n) or refuses (-y, -p), as e2fsck does; pmfs as the
 * upper layer of overlayfs (whiteout devices, RENAME_WHITEOUT); file
 * handles that outlive the kernel's caches and a remount, and go stale
 * with their file; POSIX ACLs through setfacl and getfacl, enforced by
 * the kernel, inherited, with the umask where no default ACL applies;
 * xattr values up to 64 KiB (XATTR_SIZE_MAX) across a remount and a kill
 * of the daemon.
 *
 * Each test mounts a fresh image (mnt.h) with the built mount.pmfs in the
 * foreground and unmounts it cleanly at the end.  Nothing is timed: the
 * concurrent tests bound their loops by counts and assert on what was
 * seen.
 */
#include <dirent.h>
#include <linux/aio_abi.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include "format/format.h"
#include "mnt.h"
#include "mount/fuse_ll.h"

#define IMG_SIZE (64ull << 20)

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

TestSuite(semantics, .init = setup, .fini = teardown, .timeout = 300);

/* ---- listings under renames ------------------------------------------- */

/* Create dir/f0000 .. dir/f(n-1) (empty files). */
static void make_files(const char *dir, int n)
{
	char p[4096];

	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/f%04d", dir, i);
		fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
		cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
		close(fd);
	}
}

/* One getdents64 batch from fd into seen[] (counts per file number);
 * returns the number of file entries, 0 at the end of the listing. */
static int read_batch(int fd, int *seen, int n, size_t bufsz)
{
	char buf[65536];
	long got;
	int k = 0;

	cr_assert(bufsz <= sizeof(buf));
	got = syscall(SYS_getdents64, fd, buf, bufsz);
	cr_assert(got >= 0, "getdents64: %s", strerror(errno));
	for (long pos = 0; pos < got;) {
		struct dirent64 *d = (struct dirent64 *)(buf + pos);
		int i;

		pos += d->d_reclen;
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		cr_assert_eq(sscanf(d->d_name, "f%d", &i), 1, "stray %s",
			     d->d_name);
		cr_assert(i >= 0 && i < n, "stray %s", d->d_name);
		seen[i]++;
		k++;
	}
	return got == 0 ? 0 : (k ? k : -1);
}

/* rename(from/fNNNN, to/fNNNN) */
static void move(const char *from, const char *to, int i)
{
	char a[4096], b[4096];

	snprintf(a, sizeof(a), "%s/f%04d", from, i);
	snprintf(b, sizeof(b), "%s/f%04d", to, i);
	cr_assert_eq(rename(a, b), 0, "rename %s %s: %s", a, b,
		     strerror(errno));
}

/*
 * Deterministic form: part of the listing is read, every name read so far
 * is renamed to another directory and back (each gets a new place at the
 * end of the directory), and the rest is read.  Every name stayed in the
 * directory at each getdents call, so each is listed exactly once.
 */
Test(semantics, listing_skips_names_renamed_back)
{
	enum { N = 1000 };
	static int seen[N];
	char *d = mnt_path(&M, "d"), *o = mnt_path(&M, "o");
	int fd, total = 0, k;

	cr_assert_eq(mkdir(d, 0755), 0);
	cr_assert_eq(mkdir(o, 0755), 0);
	make_files(d, N);
	fd = open(d, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	while (total < N / 3 && (k = read_batch(fd, seen, N, 4096)) != 0)
		total += k > 0 ? k : 0;
	cr_assert(total > 0 && total < N, "first part: %d entries", total);
	for (int i = 0; i < N; i++)
		if (seen[i]) {
			move(d, o, i);
			move(o, d, i);
		}
	while ((k = read_batch(fd, seen, N, 4096)) != 0) {
		total += k > 0 ? k : 0;
		cr_assert(total <= N, "the listing goes past %d entries", N);
	}
	close(fd);
	for (int i = 0; i < N; i++)
		cr_expect_eq(seen[i], 1, "f%04d listed %d times", i, seen[i]);
	cr_expect_eq(total, N);
	free(d);
	free(o);
}

/*
 * generic/736's form: a second process renames the names f0000..f(R-1)
 * away and back for as long as the listing runs; the listing must end
 * (it is cut off and fails at 3 N entries) and list each of the other
 * names exactly once, and none more than once.
 */
Test(semantics, listing_ends_while_names_move)
{
	enum { N = 3000, R = 100, ROUNDS = 5 };
	static int seen[N];
	char *d = mnt_path(&M, "d"), *o = mnt_path(&M, "o");
	int pipefd[2], st;
	pid_t child;

	cr_assert_eq(mkdir(d, 0755), 0);
	cr_assert_eq(mkdir(o, 0755), 0);
	make_files(d, N);
	cr_assert_eq(pipe(pipefd), 0);
	child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		char c;

		/* renames until the parent closes the pipe */
		close(pipefd[1]);
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			for (int i = 0; i < R; i++) {
				char a[4096], b[4096];

				snprintf(a, sizeof(a), "%s/f%04d", d, i);
				snprintf(b, sizeof(b), "%s/f%04d", o, i);
				if (rename(a, b) || rename(b, a))
					_exit(2);
			}
			if (read(pipefd[0], &c, 1) == 0)
				_exit(0);
		}
	}
	close(pipefd[0]);
	for (int round = 0; round < ROUNDS; round++) {
		int fd = open(d, O_RDONLY | O_DIRECTORY), total = 0, k;

		cr_assert(fd >= 0);
		memset(seen, 0, sizeof(seen));
		while ((k = read_batch(fd, seen, N, 1024)) != 0) {
			total += k > 0 ? k : 0;
			cr_assert(total <= 3 * N,
				  "round %d: the listing goes past %d entries",
				  round, 3 * N);
		}
		close(fd);
		for (int i = 0; i < N; i++) {
			cr_assert(seen[i] <= 1, "round %d: f%04d listed %d times",
				  round, i, seen[i]);
			if (i >= R)
				cr_assert_eq(seen[i], 1,
					     "round %d: f%04d listed %d times",
					     round, i, seen[i]);
		}
	}
	close(pipefd[1]);
	cr_assert_eq(waitpid(child, &st, 0), child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the renaming child failed (status %d)", st);
	free(d);
	free(o);
}

/* ---- reads after writes -------------------------------------------------- */

/* A file of `size` bytes of `c` at rel; its path (malloc'd). */
static char *make_filled(const char *rel, size_t size, int c)
{
	char *p = mnt_path(&M, rel), *buf = malloc(size);
	int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	cr_assert(fd >= 0 && buf, "create %s: %s", p, strerror(errno));
	memset(buf, c, size);
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	close(fd);
	free(buf);
	return p;
}

/* Index of the first byte of [off, off+len) of p (read through a fresh
 * buffered open) that is not c; -1 if all are. */
static long first_other(const char *p, off_t off, size_t len, int c)
{
	char *buf = malloc(len);
	int fd = open(p, O_RDONLY);

	cr_assert(fd >= 0 && buf);
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (char)c) {
			free(buf);
			return (long)i;
		}
	free(buf);
	return -1;
}

/*
 * generic/451's case: an asynchronous O_DIRECT write (Linux AIO) of 4 MiB,
 * a buffered read of its last page while it is in flight (that read may
 * see the old bytes: it ran before the write), then, after the write
 * completed, a buffered read through a fresh open must see the new bytes.
 * The kernel drops the range from its cache before an asynchronous
 * direct write but not after it, so without the daemon's invalidation a
 * read that ran in between leaves old pages cached; it happens in a few
 * rounds in a hundred, so the test runs many.
 */
Test(semantics, async_direct_write_then_buffered_read)
{
	enum { ROUNDS = 500 };
	const size_t sz = 4u << 20;
	char *p = make_filled("f", sz, 0), *buf, page[4096];
	aio_context_t ctx = 0;
	int dfd;

	cr_assert_eq(posix_memalign((void **)&buf, 4096, sz), 0);
	dfd = open(p, O_RDWR | O_DIRECT);
	cr_assert(dfd >= 0, "O_DIRECT open: %s", strerror(errno));
	cr_assert_eq(syscall(SYS_io_setup, 4, &ctx), 0, "io_setup: %s",
		     strerror(errno));
	for (int r = 1; r <= ROUNDS; r++) {
		struct iocb cb, *cbs[1] = { &cb };
		struct io_event ev;
		long bad;
		int fd;

		memset(buf, r % 255 + 1, sz);
		memset(&cb, 0, sizeof(cb));
		cb.aio_fildes = (uint32_t)dfd;
		cb.aio_lio_opcode = IOCB_CMD_PWRITE;
		cb.aio_buf = (uint64_t)(uintptr_t)buf;
		cb.aio_nbytes = sz;
		cr_assert_eq(syscall(SYS_io_submit, ctx, 1, cbs), 1,
			     "io_submit: %s", strerror(errno));
		fd = open(p, O_RDONLY);
		cr_assert(fd >= 0);
		cr_assert_eq(pread(fd, page, sizeof(page), sz - sizeof(page)),
			     (ssize_t)sizeof(page));
		close(fd);
		cr_assert_eq(syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL), 1);
		cr_assert_eq(ev.res, (int64_t)sz, "write: %lld",
			     (long long)ev.res);
		bad = first_other(p, 0, sz, r % 255 + 1);
		cr_assert_eq(bad, -1,
			     "round %d: old byte at %ld after the write "
			     "completed", r, bad);
	}
	syscall(SYS_io_destroy, ctx);
	close(dfd);
	free(buf);
	free(p);
}

/* Each kind of write, then reads through a descriptor opened before it,
 * a fresh buffered open, O_DIRECT and an existing shared mapping. */
Test(semantics, every_write_kind_seen_by_later_reads)
{
	const size_t sz = 1u << 20, n = 3 * 4096;
	const off_t off = 5 * 4096;
	char *p = make_filled("g", sz, 'a'), *q = make_filled("h", sz, 'x');
	char *dbuf, want[3 * 4096], got[3 * 4096];
	int rfd = open(p, O_RDONLY), wfd = open(p, O_RDWR), dfd, qfd;
	char *map;

	cr_assert(rfd >= 0 && wfd >= 0);
	cr_assert_eq(posix_memalign((void **)&dbuf, 4096, n), 0);
	map = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	cr_assert(map != MAP_FAILED);
	/* fill the page cache with the old bytes */
	cr_assert_eq(pread(rfd, got, n, off), (ssize_t)n);
	cr_assert_eq(map[off], 'a');
	for (int kind = 0; kind < 4; kind++) {
		int c = "DBMC"[kind];
		loff_t in = off, out = off;

		memset(want, c, n);
		switch (kind) {
		case 0: /* direct */
			dfd = open(p, O_RDWR | O_DIRECT);
			cr_assert(dfd >= 0);
			memset(dbuf, c, n);
			cr_assert_eq(pwrite(dfd, dbuf, n, off), (ssize_t)n);
			close(dfd);
			break;
		case 1: /* buffered */
			cr_assert_eq(pwrite(wfd, want, n, off), (ssize_t)n);
			break;
		case 2: /* through the mapping, written back by msync */
			memset(map + off, c, n);
			cr_assert_eq(msync(map, sz, MS_SYNC), 0);
			break;
		case 3: /* copy_file_range from h, made of 'C' first */
			qfd = open(q, O_RDWR);
			cr_assert(qfd >= 0);
			cr_assert_eq(pwrite(qfd, want, n, off), (ssize_t)n);
			cr_assert_eq(copy_file_range(qfd, &in, wfd, &out, n, 0),
				     (ssize_t)n, "copy_file_range: %s",
				     strerror(errno));
			close(qfd);
			break;
		}
		cr_assert_eq(pread(rfd, got, n, off), (ssize_t)n);
		cr_expect_eq(memcmp(got, want, n), 0, "%c: open descriptor", c);
		cr_expect_eq(first_other(p, off, n, c), -1, "%c: fresh open", c);
		cr_expect_eq(memcmp(map + off, want, n), 0, "%c: mapping", c);
		dfd = open(p, O_RDONLY | O_DIRECT);
		cr_assert(dfd >= 0);
		cr_assert_eq(pread(dfd, dbuf, n, off), (ssize_t)n);
		close(dfd);
		cr_expect_eq(memcmp(dbuf, want, n), 0, "%c: O_DIRECT read", c);
	}
	munmap(map, sz);
	close(rfd);
	close(wfd);
	free(dbuf);
	free(p);
	free(q);
}

/* ---- xattr names ------------------------------------------------------- */

/* In a child: drop to `uid` (if not 0) or drop CAP_SYS_ADMIN from the
 * effective set (uid 0), then list fd's names; exit code: 0 when the list
 * is exactly "user.b" and its size query agrees, 10+ otherwise. */
static int list_as(int fd, uid_t uid)
{
	pid_t pid = fork();
	int st;

	cr_assert(pid >= 0);
	if (pid == 0) {
		char buf[256];
		ssize_t n, len;

		if (uid) {
			if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
				_exit(2);
		} else {
			struct __user_cap_header_struct h = {
				.version = _LINUX_CAPABILITY_VERSION_3
			};
			struct __user_cap_data_struct d[2];

			if (syscall(SYS_capget, &h, d))
				_exit(3);
			d[0].effective &= ~(1u << CAP_SYS_ADMIN);
			if (syscall(SYS_capset, &h, d))
				_exit(4);
		}
		len = flistxattr(fd, NULL, 0);
		n = flistxattr(fd, buf, sizeof(buf));
		if (n != 7 || len != 7 || memcmp(buf, "user.b", 7) != 0)
			_exit(10);
		/* the value stays hidden too (the kernel: ENODATA) */
		if (fgetxattr(fd, "trusted.a", buf, sizeof(buf)) >= 0 ||
		    errno != ENODATA)
			_exit(11);
		/* a buffer that fits the visible names only is enough */
		if (flistxattr(fd, buf, 7) != 7)
			_exit(12);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(semantics, trusted_names_listed_to_sys_admin_only)
{
	char *p, buf[256];
	int fd, r;

	/* other users reach a FUSE mount only with allow_other */
	mnt_umount(&M);
	mnt_start(&M, NULL, "allow_other", NULL);
	p = make_filled("x", 16, 'x');
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(fsetxattr(fd, "trusted.a", "1", 1, 0), 0, "%s",
		     strerror(errno));
	cr_assert_eq(fsetxattr(fd, "user.b", "2", 1, 0), 0, "%s",
		     strerror(errno));
	/* root with CAP_SYS_ADMIN sees both */
	cr_assert_eq(flistxattr(fd, NULL, 0), 17);
	cr_assert_eq(flistxattr(fd, buf, sizeof(buf)), 17);
	cr_assert(memmem(buf, 17, "trusted.a", 10) && memmem(buf, 17, "user.b", 7));
	cr_assert_eq(flistxattr(fd, buf, 16), -1);
	cr_assert_eq(errno, ERANGE);
	r = list_as(fd, 65534);
	cr_assert_eq(r, 0, "as nobody: child exit %d", r);
	r = list_as(fd, 0);
	cr_assert_eq(r, 0, "as root without CAP_SYS_ADMIN: child exit %d", r);
	close(fd);
	free(p);
}

/* ---- fsck.pmfs on a mounted filesystem ---------------------------------- */

Test(semantics, fsck_on_mounted_warns_or_refuses)
{
	char out[65536], err[4096], *p = make_filled("data", 8192, 'd');
	int r;

	r = mnt_tool(out, sizeof(out), err, sizeof(err), "fsck.pmfs", "-fn",
		     M.img, NULL);
	cr_assert(r == 0 || r == 4, "fsck -n: %d: %s", r, err);
	cr_assert(!strncmp(out, "fsck.pmfs: WARNING: ", 20) &&
			  strstr(out, "mounted") &&
			  strstr(out, "not reliable\n"),
		  "first line: %s", out);
	for (int i = 0; i < 2; i++) {
		err[0] = 0;
		r = mnt_tool(out, sizeof(out), err, sizeof(err), "fsck.pmfs",
			     i ? "-p" : "-fy", M.img, NULL);
		cr_assert_eq(r, 8, "fsck %s: %d", i ? "-p" : "-y", r);
		cr_assert(strstr(err, "refusing to repair"), "%s", err);
	}
	/* nothing was touched: the file reads back */
	cr_assert_eq(first_other(p, 0, 8192, 'd'), -1);
	free(p);
}

/* ---- overlayfs upper layer ------------------------------------------------ */

/* rel (under the pmfs mount) is a whiteout: a character device 0:0. */
static void expect_whiteout(const char *rel)
{
	char *p = mnt_path(&M, rel);
	struct stat st;

	cr_assert_eq(lstat(p, &st), 0, "%s: %s", rel, strerror(errno));
	cr_expect(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
		  "%s: mode %o rdev %lx", rel, st.st_mode,
		  (unsigned long)st.st_rdev);
	free(p);
}

/*
 * An overlay whose upper and work directories are on pmfs, over a lower
 * directory on tmpfs: removing a lower file leaves a whiteout in the
 * upper layer, renaming one leaves a whiteout by RENAME_WHITEOUT, and the
 * overlay shows neither; a whiteout made by mknod(c 0 0) works too.
 */
Test(semantics, overlay_upper_layer)
{
	char *lower = tu_tmpdir(), *ovl = tu_tmpdir(), *opts = NULL, p[4096];
	char *up = mnt_path(&M, "up"), *work = mnt_path(&M, "work");
	struct stat st;
	int fd;

	cr_assert_eq(mkdir(up, 0755), 0);
	cr_assert_eq(mkdir(work, 0755), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", lower, i ? "b" : "a");
		fd = open(p, O_CREAT | O_WRONLY, 0644);
		cr_assert(fd >= 0);
		cr_assert_eq(write(fd, "lower", 5), 5);
		close(fd);
	}
	cr_assert(asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower,
			   up, work) > 0);
	cr_assert_eq(mount("overlay", ovl, "overlay", 0, opts), 0,
		     "mount overlay: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/a", ovl);
	cr_expect_eq(unlink(p), 0, "unlink a: %s", strerror(errno));
	{
		char q[4096];

		snprintf(p, sizeof(p), "%s/b", ovl);
		snprintf(q, sizeof(q), "%s/c", ovl);
		cr_expect_eq(rename(p, q), 0, "rename b c: %s", strerror(errno));
	}
	snprintf(p, sizeof(p), "%s/a", ovl);
	cr_expect_eq(lstat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/b", ovl);
	cr_expect_eq(lstat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/c", ovl);
	cr_expect_eq(lstat(p, &st), 0);
	cr_assert_eq(umount(ovl), 0, "umount overlay: %s", strerror(errno));
	expect_whiteout("up/a");
	expect_whiteout("up/b");
	/* a whiteout device made directly */
	snprintf(p, sizeof(p), "%s/w", M.dir);
	cr_assert_eq(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0, "%s",
		     strerror(errno));
	expect_whiteout("w");
	free(opts);
	free(up);
	free(work);
	rmdir(ovl);
	tu_rmtree(lower);
	free(ovl);
}

/* ---- the daemon's threads and signals ------------------------------------ */

/*
 * SIGTERM ends the loop only when the thread that waits for the loop's
 * end takes it: every other thread of mount.pmfs (loop workers, the
 * invalidation thread, the core's threads) blocks it.  Then SIGTERM
 * unmounts and the daemon exits 0.
 */
Test(semantics, sigterm_reaches_the_loop)
{
	char p[64], line[256];
	int open_threads = 0, threads = 0;
	DIR *d;
	struct dirent *e;

	/* a direct write starts nothing new, but let every thread exist */
	free(make_filled("f", 4096, 'x'));
	snprintf(p, sizeof(p), "/proc/%d/task", (int)M.fg);
	d = opendir(p);
	cr_assert(d);
	while ((e = readdir(d))) {
		char sp[512];
		unsigned long long blk = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(sp, sizeof(sp), "%s/%s/status", p, e->d_name);
		f = fopen(sp, "r");
		if (!f)
			continue; /* gone meanwhile */
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %llx", &blk) == 1)
				break;
		fclose(f);
		threads++;
		if (!(blk & (1ull << (SIGTERM - 1))))
			open_threads++;
	}
	closedir(d);
	cr_assert_gt(threads, 2);
	cr_assert_eq(open_threads, 1,
		     "%d of %d threads take SIGTERM; only the loop's may",
		     open_threads, threads);
	cr_assert_eq(kill(M.fg, SIGTERM), 0);
	cr_assert_eq(mnt_wait(&M), 0, "mount.pmfs after SIGTERM");
	cr_assert(!mnt_is_mounted(M.dir, NULL, 0));
}

/* ---- file handles ------------------------------------------------------ */

/* The kernel's file handle of rel. */
static struct file_handle *handle_of(const char *rel)
{
	struct file_handle *h = calloc(1, sizeof(*h) + MAX_HANDLE_SZ);
	char *p = mnt_path(&M, rel);
	int mnt_id;

	cr_assert(h);
	h->handle_bytes = MAX_HANDLE_SZ;
	cr_assert_eq(name_to_handle_at(AT_FDCWD, p, h, &mnt_id, 0), 0,
		     "name_to_handle_at %s: %s", p, strerror(errno));
	free(p);
	return h;
}

/* open_by_handle_at on the mount (its root as mount_fd): fd or -errno. */
static int open_handle(struct file_handle *h, int flags)
{
	int m = open(M.dir, O_RDONLY | O_DIRECTORY), fd;

	cr_assert(m >= 0);
	fd = open_by_handle_at(m, h, flags);
	fd = fd >= 0 ? fd : -errno;
	close(m);
	return fd;
}

/* Evict every unused dentry and inode the kernel holds: the next use of a
 * handle must go to the daemon. */
static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	cr_assert(fd >= 0, "/proc/sys/vm/drop_caches: %s", strerror(errno));
	cr_assert_eq(write(fd, "2", 1), 1);
	close(fd);
}

/* The path the kernel gives an open descriptor (/proc/self/fd). */
static void fd_path(int fd, char *buf, size_t n)
{
	char l[64];
	ssize_t r;

	snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
	r = readlink(l, buf, n - 1);
	cr_assert(r > 0);
	buf[r] = 0;
}

/*
 * name_to_handle_at + open_by_handle_at, as an NFS server uses them: a
 * file's handle opens it after the kernel dropped its caches and after a
 * remount; a directory's handle is reconnected to its path through
 * lookups of ".."; the handle of a removed file or directory is stale,
 * also once its inode number is used again.
 */
Test(semantics, file_handles_outlive_caches_and_remount)
{
	struct file_handle *hf, *hd, *hr;
	char buf[64], want[4096], got[4096];
	char *d = mnt_path(&M, "a"), *e = mnt_path(&M, "a/b");
	struct stat st, st2;
	int fd;

	cr_assert_eq(mkdir(d, 0755), 0);
	cr_assert_eq(mkdir(e, 0755), 0);
	free(make_filled("a/b/f", 100, 'h'));
	hf = handle_of("a/b/f");
	hd = handle_of("a/b");
	hr = handle_of("");
	snprintf(want, sizeof(want), "%s/a/b", M.dir);
	for (int round = 0; round < 2; round++) {
		drop_caches();
		fd = open_handle(hf, O_RDONLY);
		cr_assert_geq(fd, 0, "round %d: file handle: %s", round,
			      strerror(-fd));
		cr_assert_eq(read(fd, buf, sizeof(buf)), 64);
		cr_assert_eq(buf[0], 'h');
		close(fd);
		drop_caches();
		fd = open_handle(hd, O_RDONLY | O_DIRECTORY);
		cr_assert_geq(fd, 0, "round %d: directory handle: %s", round,
			      strerror(-fd));
		fd_path(fd, got, sizeof(got));
		cr_assert_str_eq(got, want, "round %d: reconnected as %s",
				 round, got);
		cr_assert_eq(fstatat(fd, "f", &st, 0), 0);
		cr_assert_eq(st.st_size, 100);
		close(fd);
		fd = open_handle(hr, O_RDONLY | O_DIRECTORY);
		cr_assert_geq(fd, 0, "round %d: root handle: %s", round,
			      strerror(-fd));
		close(fd);
		if (round == 0) { /* the same handles after a remount */
			mnt_umount(&M);
			mnt_start(&M, NULL, NULL, NULL);
		}
	}
	/* removed: stale, cached or not, and after the number is reused */
	cr_assert_eq(stat(e, &st), 0);
	{
		char *f = mnt_path(&M, "a/b/f");

		cr_assert_eq(stat(f, &st), 0);
		cr_assert_eq(unlink(f), 0);
		free(f);
	}
	cr_assert_eq(open_handle(hf, O_RDONLY), -ESTALE);
	drop_caches();
	cr_assert_eq(open_handle(hf, O_RDONLY), -ESTALE);
	for (int i = 0; i < 8; i++) { /* take the freed number again */
		char rel[32];

		snprintf(rel, sizeof(rel), "a/n%d", i);
		free(make_filled(rel, 10, 'n'));
		{
			char *p = mnt_path(&M, rel);

			cr_assert_eq(stat(p, &st2), 0);
			free(p);
		}
		if (st2.st_ino == st.st_ino)
			break;
	}
	cr_assert_eq(st2.st_ino, st.st_ino,
		     "the removed file's inode number was not used again");
	drop_caches();
	cr_assert_eq(open_handle(hf, O_RDONLY), -ESTALE,
		     "a handle of a removed file opened its successor");
	cr_assert_eq(rmdir(e), 0);
	drop_caches();
	cr_assert_eq(open_handle(hd, O_RDONLY | O_DIRECTORY), -ESTALE);
	free(hf);
	free(hd);
	free(hr);
	free(d);
	free(e);
}

/* ---- large xattrs ------------------------------------------------------- */

/* getxattr of rel's name: exactly want's len bytes. */
static void expect_xattr(const char *rel, const char *name,
			 const uint8_t *want, size_t len)
{
	char *p = mnt_path(&M, rel);
	uint8_t *got = malloc(PMFS_XATTR_VALUE_MAX);
	ssize_t n = getxattr(p, name, got, PMFS_XATTR_VALUE_MAX);

	cr_assert_eq(n, (ssize_t)len, "getxattr %s %s: %zd (%s)", rel, name,
		     n, strerror(errno));
	cr_assert_eq(memcmp(got, want, len), 0, "%s %s differs", rel, name);
	cr_assert_eq(getxattr(p, name, NULL, 0), (ssize_t)len);
	free(got);
	free(p);
}

/* Values of 64 KiB (XATTR_SIZE_MAX) and just past the inline limit, on a
 * file and a directory; 64 KiB + 1 is E2BIG (the kernel's own limit); the
 * values survive a clean remount and a SIGKILL of the daemon (set before
 * the kill, so acknowledged), and fsck is clean after. */
Test(semantics, xattr_values_up_to_64k)
{
	uint8_t *big = malloc(PMFS_XATTR_VALUE_MAX + 8);
	char *f = mnt_path(&M, "f"), *d = mnt_path(&M, "d");
	char out[4096], err[1024];

	for (size_t i = 0; i < PMFS_XATTR_VALUE_MAX + 8; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 10));
	free(make_filled("f", 10, 'x'));
	cr_assert_eq(mkdir(d, 0755), 0);
	cr_assert_eq(setxattr(f, "user.big", big, PMFS_XATTR_VALUE_MAX, 0), 0,
		     "setxattr 64 KiB: %s", strerror(errno));
	cr_assert_eq(setxattr(f, "user.mid", big + 1,
			      PMFS_XATTR_INLINE_MAX + 1, 0),
		     0);
	cr_assert_eq(setxattr(d, "user.big", big + 2, PMFS_XATTR_VALUE_MAX, 0),
		     0);
	cr_assert_eq(setxattr(f, "user.huge", big, PMFS_XATTR_VALUE_MAX + 1, 0),
		     -1);
	cr_assert_eq(errno, E2BIG);
	expect_xattr("f", "user.big", big, PMFS_XATTR_VALUE_MAX);
	mnt_umount(&M);
	mnt_start(&M, NULL, NULL, NULL);
	expect_xattr("f", "user.big", big, PMFS_XATTR_VALUE_MAX);
	expect_xattr("f", "user.mid", big + 1, PMFS_XATTR_INLINE_MAX + 1);
	expect_xattr("d", "user.big", big + 2, PMFS_XATTR_VALUE_MAX);
	/* replaced by another large value, then the daemon killed */
	cr_assert_eq(setxattr(f, "user.big", big + 3, 50000, XATTR_REPLACE), 0);
	kill(M.fg, SIGKILL);
	cr_assert_eq(mnt_wait(&M), 128 + SIGKILL);
	umount2(M.dir, MNT_DETACH);
	mnt_start(&M, NULL, NULL, NULL); /* recovery */
	expect_xattr("f", "user.big", big + 3, 50000);
	expect_xattr("d", "user.big", big + 2, PMFS_XATTR_VALUE_MAX);
	cr_assert_eq(removexattr(f, "user.big"), 0);
	mnt_umount(&M);
	cr_assert_eq(mnt_tool(out, sizeof(out), err, sizeof(err), "fsck.pmfs",
			      "-fn", M.img, NULL),
		     0, "%s%s", out, err);
	mnt_start(&M, NULL, NULL, NULL);
	free(big);
	free(f);
	free(d);
}

/* ---- POSIX ACLs ----------------------------------------------------------- */

#define NOBODY 65534

/* Run setfacl/getfacl (from the acl package) with up to 4 arguments; the
 * exit status, stdout in out. */
static int acl_tool(char *out, size_t on, const char *tool, const char *a1,
		    const char *a2, const char *a3, const char *a4)
{
	char path[64];
	char *argv[] = { path, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, NULL };
	char err[1024];
	int r;

	snprintf(path, sizeof(path), "/usr/bin/%s", tool);
	r = tu_run(argv, out, on, err, sizeof(err));
	if (r)
		cr_log_info("%s: %s", tool, err);
	return r;
}

/* Can user NOBODY open p with flags?  0 or the errno. */
static int nobody_opens(const char *p, int flags)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd;

		if (setgid(NOBODY) || setuid(NOBODY))
			_exit(100);
		fd = open(p, flags);
		_exit(fd >= 0 ? 0 : errno);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_neq(WEXITSTATUS(st), 100, "cannot become nobody");
	return WEXITSTATUS(st);
}

/*
 * setfacl and getfacl work and the kernel enforces what they set: a named
 * user's entry grants, the mask limits it, chmod moves the mask; a
 * directory's default ACL is inherited by what is made in it, the umask
 * not applied then, and applied without one.  -o noacl refuses ACLs.
 */
Test(semantics, posix_acls)
{
	char out[4096];
	char *f, *d, *sub, *plain;
	struct stat st;
	mode_t old;

	if (access("/usr/bin/setfacl", X_OK) != 0)
		cr_assert_fail("setfacl missing: scripts/deps.sh installs acl");
	mnt_umount(&M);
	mnt_start(&M, NULL, "allow_other", NULL);
	free(make_filled("f", 10, 'a'));
	f = mnt_path(&M, "f");
	cr_assert_eq(chmod(f, 0600), 0);
	cr_assert_eq(nobody_opens(f, O_RDONLY), EACCES);
	cr_assert_eq(acl_tool(out, sizeof(out), "setfacl", "-m", "u:65534:r",
			      f, NULL), 0);
	cr_assert_eq(acl_tool(out, sizeof(out), "getfacl", "-n", f, NULL,
			      NULL), 0);
	cr_assert(strstr(out, "user:65534:r--") && strstr(out, "mask::r--"),
		  "%s", out);
	cr_assert_eq(nobody_opens(f, O_RDONLY), 0, "the ACL did not grant");
	cr_assert_eq(nobody_opens(f, O_WRONLY), EACCES);
	cr_assert_eq(stat(f, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
	cr_assert_eq(chmod(f, 0600), 0); /* the mask follows the group bits */
	cr_assert_eq(acl_tool(out, sizeof(out), "getfacl", "-n", f, NULL,
			      NULL), 0);
	cr_assert(strstr(out, "mask::---"), "%s", out);
	cr_assert_eq(nobody_opens(f, O_RDONLY), EACCES, "the mask did not "
		     "limit the named entry");

	d = mnt_path(&M, "d");
	sub = mnt_path(&M, "d/sub");
	plain = mnt_path(&M, "plain");
	cr_assert_eq(mkdir(d, 0755), 0);
	cr_assert_eq(acl_tool(out, sizeof(out), "setfacl", "-d", "-m",
			      "u:65534:rwx", d), 0);
	old = umask(077);
	cr_assert_eq(mkdir(sub, 0777), 0);
	cr_assert_eq(mkdir(plain, 0777), 0);
	umask(old);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0775, "inherited: mode %o (umask "
		     "applied?)", st.st_mode & 0777);
	cr_assert_eq(stat(plain, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "no default ACL: mode %o "
		     "(umask not applied?)", st.st_mode & 0777);
	cr_assert_eq(acl_tool(out, sizeof(out), "getfacl", "-n", sub, NULL,
			      NULL), 0);
	cr_assert(strstr(out, "\nuser:65534:rwx") &&
			  strstr(out, "default:user:65534:rwx"),
		  "%s", out);
	cr_assert_eq(nobody_opens(sub, O_RDONLY | O_DIRECTORY), 0);
	free(f);
	free(d);
	free(sub);
	free(plain);

	/* -o noacl: refused, as on ext4 mounted noacl */
	mnt_umount(&M);
	mnt_start(&M, NULL, "noacl", NULL);
	f = mnt_path(&M, "f");
	cr_assert_neq(acl_tool(out, sizeof(out), "setfacl", "-m",
			       "u:65534:r", f, NULL), 0);
	{
		static const uint32_t e[][3] = {
			{ PMFS_ACL_USER_OBJ, 6, 0 },
			{ PMFS_ACL_GROUP_OBJ, 4, 0 },
			{ PMFS_ACL_OTHER, 4, 0 },
		};
		uint8_t b[64];

		cr_assert_eq(setxattr(f, "system.posix_acl_access", b,
				      tu_acl(b, e, 3), 0), -1);
		cr_assert_eq(errno, EOPNOTSUPP, "%s", strerror(errno));
	}
	free(f);
	mnt_umount(&M);
	{
		char err[1024];
		int r = mnt_tool(out, sizeof(out), err, sizeof(err),
				 "fsck.pmfs", "-fn", M.img, NULL);

		cr_assert_eq(r, 0, "fsck -fn: %s%s", out, err);
	}
}

/* ---- remount: the daemon's half ------------------------------------------- */

/*
 * PMFS_IOC_REMOUNT asks the daemon to go read-only only after the kernel's
 * mount is (mount.pmfs does the kernel first): asked directly on a
 * read-write mount it refuses with the reason, and the filesystem stays
 * writable.
 */
Test(semantics, remount_ioctl_needs_the_kernel_read_only_first)
{
	struct pmfs_remount rm;
	int fd = open(M.dir, O_RDONLY | O_DIRECTORY);

	cr_assert(fd >= 0);
	memset(&rm, 0, sizeof(rm));
	rm.rdonly = 1;
	cr_assert_eq(ioctl(fd, PMFS_IOC_REMOUNT, &rm), 0, "%s",
		     strerror(errno));
	close(fd);
	cr_assert_eq(rm.err, EBUSY);
	cr_assert(strstr(rm.msg, "still read-write"), "%s", rm.msg);
	free(make_filled("still-writable", 100, 'w'));
}
