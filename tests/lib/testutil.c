/*
 * testutil.c - fixtures shared by the test suites (see testutil.h).
 */
#include "testutil.h"

#include "format/format.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "testutil: %s: %s\n", what, strerror(errno));
	abort();
}

char *tu_tmpimg(uint64_t size)
{
	char *path = strdup("/dev/shm/pmfs-test-XXXXXX");
	int fd;

	if (!path)
		die("strdup");
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	if (ftruncate(fd, (off_t)size) != 0)
		die("ftruncate");
	close(fd);
	return path;
}

void tu_rmimg(char *path)
{
	if (!path)
		return;
	unlink(path);
	free(path);
}

char *tu_tmpdir(void)
{
	char *path = strdup("/dev/shm/pmfs-testd-XXXXXX");

	if (!path)
		die("strdup");
	if (!mkdtemp(path))
		die("mkdtemp");
	return path;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

void tu_rmtree(char *path)
{
	if (!path)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

const char *tu_tool(const char *name)
{
	static __thread char buf[4096];
	const char *b = getenv("PMFS_BUILD");

	snprintf(buf, sizeof(buf), "%s/%s", b && *b ? b : "build", name);
	return buf;
}

/* Read from both pipes until both are closed. */
static void drain_pipes(int fo, int fe, char *out, size_t outsz, char *err,
			size_t errsz)
{
	size_t no = 0, ne = 0;
	char junk[4096];
	struct pollfd pf[2] = { { fo, POLLIN, 0 }, { fe, POLLIN, 0 } };
	int open_n = 2;

	while (open_n > 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			char *dst = i == 0 ? out : err;
			size_t sz = i == 0 ? outsz : errsz;
			size_t *n = i == 0 ? &no : &ne;
			ssize_t r;

			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (dst && *n + 1 < sz)
				r = read(pf[i].fd, dst + *n, sz - 1 - *n);
			else
				r = read(pf[i].fd, junk, sizeof(junk));
			if (r <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_n--;
			} else if (dst && *n + 1 < sz) {
				*n += (size_t)r;
			}
		}
	}
	if (out && outsz)
		out[no] = 0;
	if (err && errsz)
		err[ne] = 0;
}

int tu_run(char *const argv[], char *out, size_t outsz, char *err,
	   size_t errsz)
{
	int po[2], pe[2], st;
	pid_t pid;

	if (pipe(po) || pipe(pe))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		/* a daemon started here must not hold our pipes open */
		for (int i = 0; i < 5; i++) {
			int fd = (int[]){ nul, po[0], pe[0], po[1], pe[1] }[i];

			if (fd > 2)
				close(fd);
		}
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	drain_pipes(po[0], pe[0], out, outsz, err, errsz);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Little-endian store of the low `bytes` bytes of v at p. */
static void put_le(uint8_t *p, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

size_t tu_acl(uint8_t *buf, const uint32_t (*ent)[3], size_t n)
{
	put_le(buf, PMFS_ACL_VERSION, 4);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = buf + 4 + 8 * i;
		uint32_t tag = ent[i][0];
		bool named = tag == PMFS_ACL_USER || tag == PMFS_ACL_GROUP;

		put_le(e, tag, 2);
		put_le(e + 2, ent[i][1], 2);
		put_le(e + 4, named ? ent[i][2] : 0xffffffffu, 4);
	}
	return 4 + 8 * n;
}

int tu_lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}
