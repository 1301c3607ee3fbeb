/*
 * test_writeback.c - mount.pmfs -o writeback (mount/fuse_ll.c rule (11)):
 * the kernel's writeback cache, with the contract of a conventional
 * filesystem, on a real mount.
 *
 * Buffered and mmap writes are durable once fsync, fdatasync or msync
 * returned, and an O_SYNC or O_DSYNC write (or any write on a -o sync
 * mount) once it returned: the test does the write and the call, SIGKILLs
 * the daemon at once (the file still open, so that no close writes
 * anything back), mounts again (which must run recovery) and compares
 * data and size.  Without any of them nothing is promised, and sync(2)
 * and syncfs(2) promise nothing either: Linux starts writing a FUSE
 * filesystem's cache back for them but does not wait for the answers
 * (on 6.18, a SIGKILL right after sync(2) lost the whole file in 3 runs
 * of 10).  There the test asserts only that recovery and fsck.pmfs find
 * a clean filesystem and that what came back was written.  A read-only
 * remount and a clean unmount write the cache back.  Size, mtime,
 * truncation and O_APPEND are checked through the cache and again from the media after
 * a clean remount; a partial-page write to a file opened O_WRONLY makes
 * the kernel READ the page.  The default mount keeps writes durable on
 * return; a remount cannot change the mode; a read-only mount may ask
 * for the cache.  Every scenario ends with a clean unmount and
 * `fsck.pmfs -fn`, which must exit 0.
 *
 * Nothing is timed: a SIGKILL is sent only after the calls that promise
 * durability returned, and the daemon's exit is waited for (mnt.h).
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "mnt.h"
#include "mount/fuse_ll.h"
#include "mount/transport.h"

#define IMG_SIZE (64ull << 20)
#define PAGE 4096u
#define DATA_LEN (256u * PAGE + 123u) /* not a whole number of pages */
#define REQ_READ 15                   /* FUSE_READ */

static struct mnt M;
static const char *cur_opts; /* -o of the current mount, for the next */
static char mount_log[128];

/* Each test: FUSE needed, a log file name of its own. */
static void setup(void)
{
	mnt_need_fuse();
	snprintf(mount_log, sizeof(mount_log), "/dev/shm/pmfs-wb-mount.%d",
		 getpid());
}

/* Each test: whatever it left mounted or running goes. */
static void teardown(void)
{
	mnt_teardown(&M);
	if (mount_log[0])
		unlink(mount_log);
	mount_log[0] = 0;
}

TestSuite(writeback, .init = setup, .fini = teardown, .timeout = 300);

/* ---- helpers ------------------------------------------------------------ */

/* Mount a fresh image with -o opts (NULL: none). */
static void start(const char *opts)
{
	mnt_mkfs(&M, IMG_SIZE);
	cur_opts = opts;
	mnt_start(&M, NULL, opts, NULL);
}

/* The test data: len bytes from file offset off, for seed. */
static void pattern(char *p, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i + 1) * 0x9e3779b97f4a7c15ull ^ seed;

		p[i] = (char)(x >> 31 | 1); /* never 0: a hole shows */
	}
}

/* Buffered writes of the data: pages in reverse order (the first write
 * sets the size), each page one write. */
static void write_pattern(int fd, size_t len, unsigned seed)
{
	char buf[PAGE];

	for (size_t off = (len - 1) / PAGE * PAGE;; off -= PAGE) {
		size_t n = len - off < PAGE ? len - off : PAGE;

		pattern(buf, n, off, seed);
		cr_assert_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n,
			     "pwrite at %zu: %s", off, strerror(errno));
		if (off == 0)
			break;
	}
}

/* The whole of file rel, its length in *len. */
static char *read_all(const char *rel, size_t *len)
{
	char *p = mnt_path(&M, rel), *buf;
	struct stat st;
	int fd = open(p, O_RDONLY);

	cr_assert(fd >= 0, "open %s: %s", p, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	cr_assert(buf);
	cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size,
		     "read %s: %s", p, strerror(errno));
	close(fd);
	free(p);
	*len = (size_t)st.st_size;
	return buf;
}

/* File rel holds want[0..len) and is len bytes long. */
static void check_file(const char *rel, const char *want, size_t len)
{
	size_t got_len, i;
	char *got = read_all(rel, &got_len);

	cr_assert_eq(got_len, len, "%s: size %zu, want %zu", rel, got_len,
		     len);
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	cr_assert_eq(i, len, "%s: first difference at byte %zu", rel, i);
	free(got);
}

/* File rel holds the data of seed, len bytes. */
static void check_pattern(const char *rel, size_t len, unsigned seed)
{
	char *want = malloc(len);

	cr_assert(want);
	pattern(want, len, 0, seed);
	check_file(rel, want, len);
	free(want);
}

/* An ioctl on the mount's root. */
static void root_ioctl(unsigned long cmd, void *arg)
{
	int fd = open(M.dir, O_RDONLY | O_DIRECTORY);

	cr_assert(fd >= 0, "open %s: %s", M.dir, strerror(errno));
	cr_assert_eq(ioctl(fd, cmd, arg), 0, "ioctl: %s", strerror(errno));
	close(fd);
}

/* Whether the daemon has the writeback cache (PMFS_IOC_MODE). */
static uint32_t mode_writeback(void)
{
	struct pmfs_mode m;

	memset(&m, 0, sizeof(m));
	root_ioctl(PMFS_IOC_MODE, &m);
	return m.writeback;
}

/* Requests of opcode op the daemon has read so far. */
static uint64_t req_count(unsigned op)
{
	struct pmfs_req_counts c;

	root_ioctl(PMFS_IOC_REQ_COUNTS, &c);
	return c.n[op];
}

/* SIGKILL the daemon, free the mount point, mount again with the same
 * options: the mount must run recovery. */
static void kill_and_recover(void)
{
	char out[8192];

	cr_assert_eq(kill(M.fg, SIGKILL), 0);
	cr_assert_eq(mnt_wait(&M), 128 + SIGKILL,
		     "mount.pmfs died before the kill");
	cr_assert_eq(umount2(M.dir, MNT_DETACH), 0, "umount: %s",
		     strerror(errno));
	mnt_start(&M, "-v", cur_opts, mount_log);
	mnt_slurp(mount_log, out, sizeof(out));
	cr_assert(strstr(out, "recovery mount"),
		  "mount -v after the kill did not report recovery:\n%s", out);
}

/* Clean unmount; fsck.pmfs -fn must find nothing. */
static void umount_fsck(void)
{
	char out[8192], err[8192];
	int r;

	mnt_umount(&M);
	r = mnt_tool(out, sizeof(out), err, sizeof(err), "fsck.pmfs", "-fn",
		     M.img, NULL);
	cr_assert_eq(r, 0, "fsck.pmfs -fn: %d\n%s%s", r, out, err);
}

/* Create rel for writing with extra open flags; the descriptor. */
static int create(const char *rel, int flags)
{
	char *p = mnt_path(&M, rel);
	int fd = open(p, O_CREAT | O_EXCL | flags, 0644);

	cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
	free(p);
	return fd;
}

/* Create rel of DATA_LEN bytes and map it shared; *fd stays open. */
static char *create_mapped(const char *rel, int *fd)
{
	char *m;

	*fd = create(rel, O_RDWR);
	cr_assert_eq(ftruncate(*fd, DATA_LEN), 0);
	m = mmap(NULL, DATA_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	cr_assert(m != MAP_FAILED, "mmap: %s", strerror(errno));
	return m;
}

/* ---- durable after the call that waits -------------------------------- */

enum wait_call { BY_FSYNC, BY_FDATASYNC };

/*
 * Buffered writes, then the call; SIGKILL with the file still open (a
 * close would write back by itself); after recovery the data is whole.
 */
static void durable_after(enum wait_call how)
{
	unsigned seed = 100 + how;
	int fd;

	start("writeback");
	cr_assert_eq(mode_writeback(), 1, "the kernel took no writeback cache");
	fd = create("f", O_WRONLY);
	write_pattern(fd, DATA_LEN, seed);
	switch (how) {
	case BY_FSYNC:
		cr_assert_eq(fsync(fd), 0, "fsync: %s", strerror(errno));
		break;
	case BY_FDATASYNC:
		cr_assert_eq(fdatasync(fd), 0, "fdatasync: %s",
			     strerror(errno));
		break;
	}
	kill_and_recover();
	close(fd); /* the dead mount's file */
	check_pattern("f", DATA_LEN, seed);
	umount_fsck();
}

Test(writeback, fsync_makes_buffered_writes_durable)
{
	durable_after(BY_FSYNC);
}

Test(writeback, fdatasync_makes_buffered_writes_durable)
{
	durable_after(BY_FDATASYNC);
}

Test(writeback, msync_makes_mmap_writes_durable)
{
	unsigned seed = 7;
	char *m;
	int fd;

	start("writeback");
	m = create_mapped("f", &fd);
	pattern(m, DATA_LEN, 0, seed);
	cr_assert_eq(msync(m, DATA_LEN, MS_SYNC), 0, "msync: %s",
		     strerror(errno));
	kill_and_recover();
	munmap(m, DATA_LEN);
	close(fd);
	check_pattern("f", DATA_LEN, seed);
	umount_fsck();
}

/* ---- durable on return ------------------------------------------------ */

/* Writes through an fd opened with flags on a mount with -o opts are
 * durable when they return: SIGKILL right after the last one. */
static void durable_on_return(const char *opts, int flags, uint32_t wb)
{
	unsigned seed = 200 + (unsigned)flags;
	int fd;

	start(opts);
	cr_assert_eq(mode_writeback(), wb);
	fd = create("f", O_WRONLY | flags);
	write_pattern(fd, DATA_LEN, seed);
	kill_and_recover();
	close(fd);
	check_pattern("f", DATA_LEN, seed);
	umount_fsck();
}

Test(writeback, o_sync_writes_durable_on_return)
{
	durable_on_return("writeback", O_SYNC, 1);
}

Test(writeback, o_dsync_writes_durable_on_return)
{
	durable_on_return("writeback", O_DSYNC, 1);
}

/* -o sync wins over the cache: every write is an O_SYNC write. */
Test(writeback, sync_mount_option_makes_every_write_durable_on_return)
{
	durable_on_return("writeback,sync", 0, 1);
}

/* The default: no writeback cache, every answered write is durable. */
Test(writeback, default_mount_writes_durable_on_return)
{
	durable_on_return(NULL, 0, 0);
}

Test(writeback, nowriteback_is_the_default)
{
	durable_on_return("writeback,nowriteback", 0, 0);
}

/* ---- nothing promised ------------------------------------------------- */

enum no_wait { NOTHING, BY_SYNC, BY_SYNCFS };

/*
 * Buffered writes and no call that waits for them (sync and syncfs start
 * the writeback only): any part of them may be lost.  Recovery must
 * still give a clean filesystem, the file (its create was answered, and
 * creates stay durable on return), and in it only bytes that were
 * written, or holes.
 */
static void unsynced(enum no_wait how)
{
	unsigned seed = 300 + how;
	size_t len, i;
	char *got, *want = malloc(DATA_LEN);
	int fd;

	cr_assert(want);
	start("writeback");
	fd = create("f", O_WRONLY);
	write_pattern(fd, DATA_LEN, seed);
	if (how == BY_SYNC)
		sync();
	if (how == BY_SYNCFS)
		cr_assert_eq(syncfs(fd), 0, "syncfs: %s", strerror(errno));
	kill_and_recover();
	close(fd);
	got = read_all("f", &len);
	cr_assert_leq(len, DATA_LEN);
	pattern(want, DATA_LEN, 0, seed);
	for (i = 0; i < len && (got[i] == want[i] || got[i] == 0); i++)
		;
	cr_assert_eq(i, len, "byte %zu was never written", i);
	cr_log_info("%s: %zu of %u bytes came back",
		    how == BY_SYNC ? "sync" : how == BY_SYNCFS ? "syncfs" : "-",
		    len, DATA_LEN);
	free(got);
	free(want);
	umount_fsck();
}

Test(writeback, unsynced_writes_recover_clean)
{
	unsynced(NOTHING);
}

Test(writeback, after_sync_recover_clean)
{
	unsynced(BY_SYNC);
}

Test(writeback, after_syncfs_recover_clean)
{
	unsynced(BY_SYNCFS);
}

/* ---- size, mtime, truncate, append ------------------------------------ */

/* pwrite n bytes of c at off through fd, and into the model. */
static void put(int fd, char *model, size_t off, size_t n, int c)
{
	char buf[PAGE];

	cr_assert(n <= sizeof(buf));
	memset(buf, c, n);
	memset(model + off, c, n);
	cr_assert_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
}

/* The size of fd's file as the kernel shows it. */
static off_t fsize(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_size;
}

Test(writeback, size_mtime_truncate_append)
{
	const struct timespec old[2] = { { 946684800, 0 }, { 946684800, 0 } };
	char model[4 * PAGE], add[PAGE];
	struct timespec mtime;
	struct stat st;
	size_t len;
	int fd, afd;

	start("writeback");
	memset(model, 0, sizeof(model));
	fd = create("f", O_RDWR);
	put(fd, model, 0, 3000, 'a');
	put(fd, model, 3000, 2000, 'b');
	cr_assert_eq(fsize(fd), 5000);
	/* mtime: from a day long past, any write moves it on */
	cr_assert_eq(futimens(fd, old), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_mtim.tv_sec, old[1].tv_sec);
	put(fd, model, 6000, 100, 'c');
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 6100);
	cr_assert_gt(st.st_mtim.tv_sec, old[1].tv_sec, "mtime did not advance");
	/* truncate down into a dirty page, write across the new end, up */
	cr_assert_eq(ftruncate(fd, 2500), 0);
	memset(model + 2500, 0, sizeof(model) - 2500);
	cr_assert_eq(fsize(fd), 2500);
	put(fd, model, 2495, 10, 'd');
	cr_assert_eq(fsize(fd), 2505);
	cr_assert_eq(ftruncate(fd, 4500), 0);
	cr_assert_eq(fsize(fd), 4500);
	/* O_APPEND: the kernel places the writes at its own end of file */
	{
		char *p = mnt_path(&M, "f");

		afd = open(p, O_WRONLY | O_APPEND);
		cr_assert(afd >= 0, "open %s: %s", p, strerror(errno));
		free(p);
	}
	memset(add, 'e', 700);
	cr_assert_eq(write(afd, add, 700), 700);
	memset(model + 4500, 'e', 700);
	put(fd, model, 5200, 50, 'f'); /* through the other fd, at the end */
	memset(add, 'g', 30);
	cr_assert_eq(write(afd, add, 30), 30);
	memset(model + 5250, 'g', 30);
	len = 5280;
	cr_assert_eq(fsize(fd), (off_t)len);
	check_file("f", model, len);
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	mtime = st.st_mtim;
	cr_assert_gt(mtime.tv_sec, old[1].tv_sec);
	close(afd);
	close(fd);
	/* from the media: a clean unmount, fsck, a mount again */
	umount_fsck();
	mnt_start(&M, NULL, cur_opts, NULL);
	check_file("f", model, len);
	{
		char *p = mnt_path(&M, "f");

		cr_assert_eq(stat(p, &st), 0);
		free(p);
	}
	cr_assert_eq(st.st_mtim.tv_sec, mtime.tv_sec,
		     "mtime after remount %lld, before %lld",
		     (long long)st.st_mtim.tv_sec, (long long)mtime.tv_sec);
	cr_assert_eq(st.st_mtim.tv_nsec, mtime.tv_nsec);
	umount_fsck();
}

/* The times the kernel shows are the ones stored: the kernel sends them
 * in a SETATTR of its own, which may be answered before the WRITEs of the
 * writeback it goes with (they keep the stored times; an old pmfs
 * stamped the time it served them).  Several files, so that some
 * writeback is in flight when the times go out. */
Test(writeback, stored_times_are_the_kernels)
{
	const struct timespec old[2] = { { 946684800, 5 }, { 946684800, 7 } };
	struct timespec want[16];
	char model[2 * PAGE], rel[16];
	struct stat st;

	start("writeback");
	for (unsigned k = 0; k < 16; k++) {
		int fd;

		snprintf(rel, sizeof(rel), "f%u", k);
		fd = create(rel, O_RDWR);
		if (k & 1)
			cr_assert_eq(futimens(fd, old), 0);
		put(fd, model, 0, PAGE, 'a' + (int)k);
		put(fd, model, PAGE, PAGE, 'b');
		if (k & 2)
			cr_assert_eq(futimens(fd, old), 0); /* pages dirty */
		cr_assert_eq(fstat(fd, &st), 0);
		want[k] = st.st_mtim;
		close(fd);
	}
	sync(); /* starts the writeback, times and all, without waiting */
	umount_fsck();
	mnt_start(&M, NULL, cur_opts, NULL);
	for (unsigned k = 0; k < 16; k++) {
		char *p;

		snprintf(rel, sizeof(rel), "f%u", k);
		p = mnt_path(&M, rel);
		cr_assert_eq(stat(p, &st), 0);
		free(p);
		cr_assert(st.st_mtim.tv_sec == want[k].tv_sec &&
				  st.st_mtim.tv_nsec == want[k].tv_nsec,
			  "%s: mtime %lld.%09ld stored, %lld.%09ld shown", rel,
			  (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			  (long long)want[k].tv_sec, want[k].tv_nsec);
	}
	umount_fsck();
}

/* SEEK_DATA and SEEK_HOLE see data the kernel has not written back yet
 * (cp probes a file whose st_blocks is still 0 with them). */
Test(writeback, seek_data_sees_unwritten_back_data)
{
	char model[3 * PAGE];
	int fd;

	start("writeback");
	fd = create("f", O_RDWR);
	for (unsigned i = 0; i < 3; i++)
		put(fd, model, i * PAGE, PAGE, 'a' + (int)i);
	cr_assert_eq(lseek(fd, 0, SEEK_DATA), 0, "SEEK_DATA: %s",
		     strerror(errno));
	cr_assert_eq(lseek(fd, 0, SEEK_HOLE), (off_t)sizeof(model));
	cr_assert_eq(lseek(fd, PAGE, SEEK_DATA), (off_t)PAGE);
	close(fd);
	umount_fsck();
}

/* The kernel reads the rest of a page it has not cached before a
 * partial write into it, also through a file opened O_WRONLY. */
/* Is the page at off of fd's file in the page cache? */
static bool page_cached(int fd, off_t off)
{
	unsigned char v = 0;
	void *m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, off);

	cr_assert(m != MAP_FAILED, "mmap: %s", strerror(errno));
	cr_assert_eq(mincore(m, PAGE, &v), 0);
	munmap(m, PAGE);
	return v & 1;
}

Test(writeback, partial_page_write_to_write_only_file)
{
	unsigned seed = 11;
	size_t len = 3 * PAGE + 100;
	char *want = malloc(len);
	uint64_t reads;
	bool cached;
	char *p;
	int fd;

	cr_assert(want);
	start("writeback");
	fd = create("f", O_RDWR);
	write_pattern(fd, len, seed);
	cr_assert_eq(fsync(fd), 0);
	/* the pages are clean now: drop them from the cache (a hint: the
	 * READ is asserted only when the page really went) */
	cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	cached = page_cached(fd, PAGE);
	close(fd);
	reads = req_count(REQ_READ);
	p = mnt_path(&M, "f");
	fd = open(p, O_WRONLY);
	cr_assert(fd >= 0, "open %s: %s", p, strerror(errno));
	free(p);
	cr_assert_eq(pwrite(fd, "XYZ", 3, PAGE + 10), 3);
	if (!cached)
		cr_assert_gt(req_count(REQ_READ), reads,
			     "no READ filled the page before the partial write");
	cr_assert_eq(fsync(fd), 0);
	kill_and_recover();
	close(fd);
	pattern(want, len, 0, seed);
	memcpy(want + PAGE + 10, "XYZ", 3);
	check_file("f", want, len);
	free(want);
	umount_fsck();
}

/* ---- remount, read-only ----------------------------------------------- */

/* mount.pmfs -o opts on the mounted M (a remount); its exit code. */
static int remount(const char *opts, char *err, size_t en)
{
	char out[4096];

	return mnt_tool(out, sizeof(out), err, en, "mount.pmfs", M.img, M.dir,
			"-o", opts, NULL);
}

/*
 * remount,ro, then SIGKILL the daemon and mount again: the read-only
 * remount wrote the cache back and the clean state, so the mount after is
 * a clean one (no recovery) and must find everything.
 */
static void remount_ro_then_kill(void)
{
	char err[4096], out[8192];
	int r = remount("remount,ro", err, sizeof(err));

	cr_assert_eq(r, 0, "remount,ro: exit %d: %s", r, err);
	cr_assert_eq(kill(M.fg, SIGKILL), 0);
	cr_assert_eq(mnt_wait(&M), 128 + SIGKILL);
	cr_assert_eq(umount2(M.dir, MNT_DETACH), 0);
	mnt_start(&M, "-v", "writeback", mount_log);
	mnt_slurp(mount_log, out, sizeof(out));
	cr_assert(strstr(out, "clean mount"), "%s", out);
}

/*
 * The cache is the kernel's choice at INIT: a remount naming the other
 * mode is refused with one line and changes nothing; one naming the same
 * mode, or none, goes through.  Going read-only writes back what the
 * cache holds (here mmap writes with no file open) before the daemon
 * writes its clean state.
 */
Test(writeback, remount_keeps_the_mode_and_writes_back)
{
	char err[4096], line[4096];
	unsigned seed = 13;
	char *m;
	int fd, r;

	start("writeback");
	r = remount("remount,nowriteback", err, sizeof(err));
	cr_assert_eq(r, 1, "remount,nowriteback: exit %d: %s", r, err);
	cr_assert(strstr(err, "chosen at mount time"), "%s", err);
	cr_assert_eq(tu_lines(err), 1, "not one line: %s", err);
	cr_assert_eq(mode_writeback(), 1);
	cr_assert(mnt_is_mounted(M.dir, line, sizeof(line)));
	cr_assert(strstr(line, " rw,"), "%s", line);

	m = create_mapped("f", &fd);
	close(fd);
	pattern(m, DATA_LEN, 0, seed);
	cr_assert_eq(munmap(m, DATA_LEN), 0);
	r = remount("remount,ro,writeback", err, sizeof(err));
	cr_assert_eq(r, 0, "remount,ro: exit %d: %s", r, err);
	cr_assert(mnt_is_mounted(M.dir, line, sizeof(line)));
	cr_assert(strstr(line, " ro,"), "%s", line);
	r = remount("remount,rw", err, sizeof(err));
	cr_assert_eq(r, 0, "remount,rw: exit %d: %s", r, err);
	cr_assert_eq(mode_writeback(), 1);
	remount_ro_then_kill();
	check_pattern("f", DATA_LEN, seed);
	umount_fsck();
}

/* Folders of 200-byte names, deep enough for a path past PATH_MAX; the
 * deepest folder's descriptor (from the mount's root). */
static int deep_dir(int levels)
{
	char name[201];
	int fd = open(M.dir, O_RDONLY | O_DIRECTORY), next;

	memset(name, 'd', 200);
	name[200] = 0;
	for (int i = 0; i < levels; i++) {
		cr_assert(fd >= 0);
		cr_assert_eq(mkdirat(fd, name, 0755) == 0 || errno == EEXIST,
			     1, "mkdirat level %d: %s", i, strerror(errno));
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	cr_assert(fd >= 0);
	return fd;
}

/* Going read-only writes back a file whose path is longer than PATH_MAX
 * (the walk opens each file from its own folder). */
Test(writeback, remount_ro_writes_back_deep_files)
{
	char buf[3 * PAGE], want[3 * PAGE];
	int dfd, fd;

	start("writeback");
	dfd = deep_dir(24); /* 24 * 201 bytes: past PATH_MAX */
	fd = openat(dfd, "f", O_CREAT | O_RDWR, 0644);
	cr_assert(fd >= 0, "create: %s", strerror(errno));
	pattern(want, sizeof(want), 0, 29);
	cr_assert_eq(write(fd, want, sizeof(want)), (ssize_t)sizeof(want));
	close(fd);
	close(dfd);
	remount_ro_then_kill();
	dfd = deep_dir(24);
	fd = openat(dfd, "f", O_RDONLY);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	cr_assert_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	cr_assert_eq(memcmp(buf, want, sizeof(buf)), 0);
	close(fd);
	close(dfd);
	umount_fsck();
}

/* A clean unmount writes back what the cache holds, here mmap writes
 * that no open file holds any more. */
Test(writeback, umount_writes_back)
{
	unsigned seed = 19;
	char *m;
	int fd;

	start("writeback");
	m = create_mapped("f", &fd);
	close(fd);
	pattern(m, DATA_LEN, 0, seed);
	cr_assert_eq(munmap(m, DATA_LEN), 0);
	umount_fsck();
	mnt_start(&M, NULL, cur_opts, NULL);
	check_pattern("f", DATA_LEN, seed);
	umount_fsck();
}

/* A read-only mount may ask for the cache: nothing is written, reads
 * are cached as before. */
Test(writeback, read_only_mount)
{
	unsigned seed = 17;
	char *p;
	int fd;

	start("writeback");
	fd = create("f", O_WRONLY);
	write_pattern(fd, DATA_LEN, seed);
	close(fd);
	umount_fsck();
	cur_opts = "ro,writeback";
	mnt_start(&M, NULL, cur_opts, NULL);
	cr_assert_eq(mode_writeback(), 1);
	check_pattern("f", DATA_LEN, seed);
	p = mnt_path(&M, "f");
	cr_assert_eq(open(p, O_WRONLY), -1);
	cr_assert_eq(errno, EROFS);
	free(p);
	umount_fsck();
}
