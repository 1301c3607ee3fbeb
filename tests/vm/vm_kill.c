/*
 * vm_kill.c - a workload whose every completed step is known, for killing
 * the daemon under it (tests/vm/t-pmem.sh), and the check after recovery.
 *
 *   vm_kill work DIR LOG     run steps 0, 1, 2, ... on the mount DIR; after
 *                            each step's system call returned, append its
 *                            number to LOG (outside the mount); stop at the
 *                            first failure (the daemon is gone) or after
 *                            VMK_MAX_STEPS
 *   vm_kill verify DIR LOG   n = steps in LOG: the tree under DIR must be
 *                            the model after n steps or after n + 1 (the
 *                            step in flight at the kill is all or nothing),
 *                            and nothing else
 *
 * Each step is one system call that changes the tree: create a file empty,
 * write its whole content (one FUSE request: at most 64 KiB), append 512
 * bytes to a log file, rename a file, unlink one, make a directory.  The
 * sequence is a function of the step number alone, so verify rebuilds the
 * model without reading anything but the count.  Exit 0 when the tree
 * matches; otherwise a message per difference and exit 1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VMK_MAX_STEPS 100000
#define VMK_APPEND 512
#define VMK_NAME 32

/* One name in the model of the tree. */
struct vmk_ent {
	char name[VMK_NAME];
	int dir;     /* 1: a directory (always empty) */
	long id;     /* content generator of a file */
	size_t len;  /* bytes of a file */
};

struct vmk_model {
	struct vmk_ent *e;
	size_t n, cap;
	size_t appended; /* bytes in "append" (a file in e[] once created) */
};

/* Length of file i's content: 1 byte to 64 KiB, reproducible from i. */
static size_t vmk_len(long i)
{
	return (size_t)(i * 7919 % 65536) + 1;
}

/* Byte k of file i (and of the append file, id -1). */
static char vmk_byte(long i, size_t k)
{
	return (char)('a' + (unsigned long)(i * 31 + (long)k * 7) % 26);
}

static struct vmk_ent *vmk_find(struct vmk_model *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].name, name))
			return &m->e[i];
	return NULL;
}

static struct vmk_ent *vmk_add(struct vmk_model *m, const char *name)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		if (!m->e) {
			perror("vm_kill: realloc");
			exit(2);
		}
	}
	memset(&m->e[m->n], 0, sizeof(m->e[0]));
	snprintf(m->e[m->n].name, VMK_NAME, "%s", name);
	return &m->e[m->n++];
}

static void vmk_del(struct vmk_model *m, const char *name)
{
	struct vmk_ent *e = vmk_find(m, name);

	if (e)
		*e = m->e[--m->n];
}

/*
 * Step k, in groups of 8: file g = k / 8 is created (0), written (1), the
 * append file grows (2), file g-2 is renamed f -> g (3), file g-5's new name
 * is unlinked when g is odd, else the append file grows (4), a directory
 * d<g> is made when g % 3 == 0, else the append file grows (5), file g is
 * overwritten whole, same size, with the bytes of id g + 100000 (6),
 * the append file grows (7).
 * With `dir` NULL only the model changes; otherwise the system call runs
 * on the mount first and the model follows only if it succeeded.
 * Returns 0 or -errno of the system call.
 */
static int vmk_step(struct vmk_model *m, const char *dir, long k)
{
	static char buf[65536];
	long g = k / 8;
	char a[4096], b[4096], n1[VMK_NAME], n2[VMK_NAME];
	struct vmk_ent *e;
	size_t len;
	long id;
	int fd, r = 0;

	switch (k % 8) {
	case 0: /* create f<g>, empty */
		snprintf(n1, sizeof(n1), "f%ld", g);
		if (dir) {
			snprintf(a, sizeof(a), "%s/%s", dir, n1);
			fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0)
				return -errno;
			close(fd);
		}
		e = vmk_add(m, n1);
		e->id = g;
		e->len = 0;
		return 0;
	case 1: /* write f<g> whole */
	case 6: /* overwrite f<g> whole, another content */
		id = k % 8 == 1 ? g : g + 100000;
		snprintf(n1, sizeof(n1), "f%ld", g);
		len = vmk_len(g); /* the overwrite keeps the size */
		if (dir) {
			for (size_t i = 0; i < len; i++)
				buf[i] = vmk_byte(id, i);
			snprintf(a, sizeof(a), "%s/%s", dir, n1);
			fd = open(a, O_WRONLY);
			if (fd < 0)
				return -errno;
			if (pwrite(fd, buf, len, 0) != (ssize_t)len)
				r = errno ? -errno : -EIO;
			close(fd);
			if (r)
				return r;
		}
		e = vmk_find(m, n1);
		e->id = id;
		e->len = len;
		return 0;
	case 3: /* rename f<g-2> -> g<g-2> */
		if (g < 2)
			break;
		snprintf(n1, sizeof(n1), "f%ld", g - 2);
		snprintf(n2, sizeof(n2), "g%ld", g - 2);
		if (dir) {
			snprintf(a, sizeof(a), "%s/%s", dir, n1);
			snprintf(b, sizeof(b), "%s/%s", dir, n2);
			if (rename(a, b) != 0)
				return -errno;
		}
		e = vmk_find(m, n1);
		if (e)
			snprintf(e->name, VMK_NAME, "%s", n2);
		return 0;
	case 4: /* unlink g<g-5> when g is odd */
		if (g < 5 || g % 2 == 0)
			break;
		snprintf(n1, sizeof(n1), "g%ld", g - 5);
		if (dir) {
			snprintf(a, sizeof(a), "%s/%s", dir, n1);
			if (unlink(a) != 0)
				return -errno;
		}
		vmk_del(m, n1);
		return 0;
	case 5: /* mkdir d<g> when g % 3 == 0 */
		if (g % 3)
			break;
		snprintf(n1, sizeof(n1), "d%ld", g);
		if (dir) {
			snprintf(a, sizeof(a), "%s/%s", dir, n1);
			if (mkdir(a, 0755) != 0)
				return -errno;
		}
		vmk_add(m, n1)->dir = 1;
		return 0;
	default:
		break;
	}
	/* case 2, 7 and the cases that did nothing: grow the append file */
	if (dir) {
		for (size_t i = 0; i < VMK_APPEND; i++)
			buf[i] = vmk_byte(-1, m->appended + i);
		snprintf(a, sizeof(a), "%s/append", dir);
		fd = open(a, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0)
			return -errno;
		if (write(fd, buf, VMK_APPEND) != VMK_APPEND)
			r = errno ? -errno : -EIO;
		close(fd);
		if (r)
			return r;
	}
	if (!vmk_find(m, "append")) {
		e = vmk_add(m, "append");
		e->id = -1;
	}
	m->appended += VMK_APPEND;
	vmk_find(m, "append")->len = m->appended;
	return 0;
}

/* The model after n steps. */
static void vmk_model(struct vmk_model *m, long n)
{
	memset(m, 0, sizeof(*m));
	for (long k = 0; k < n; k++)
		vmk_step(m, NULL, k);
}

static int work(const char *dir, const char *log)
{
	struct vmk_model m;
	FILE *f = fopen(log, "w");
	long k;
	int r = 0;

	if (!f) {
		perror(log);
		return 2;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	memset(&m, 0, sizeof(m));
	for (k = 0; k < VMK_MAX_STEPS; k++) {
		r = vmk_step(&m, dir, k);
		if (r)
			break;
		fprintf(f, "%ld\n", k);
	}
	fclose(f);
	printf("vm_kill: work: %ld steps done%s%s\n", k, r ? ", then " : "",
	       r ? strerror(-r) : "");
	return 0;
}

/* Compare the tree with the model; the number of differences (printed
 * when `say`). */
static int vmk_compare(const char *dir, struct vmk_model *m, int say)
{
	static char buf[1 << 17];
	char p[4096];
	struct dirent *d;
	size_t seen = 0;
	int bad = 0;
	DIR *dh = opendir(dir);

	if (!dh) {
		if (say)
			printf("vm_kill: cannot list %s: %s\n", dir,
			       strerror(errno));
		return 1;
	}
	while ((d = readdir(dh))) {
		struct vmk_ent *e;
		struct stat st;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
		    !strcmp(d->d_name, "lost+found"))
			continue;
		e = vmk_find(m, d->d_name);
		if (!e) {
			if (say)
				printf("vm_kill: %s: not in the model\n",
				       d->d_name);
			bad++;
			continue;
		}
		seen++;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		if (lstat(p, &st) != 0) {
			bad++;
			continue;
		}
		if (e->dir != !!S_ISDIR(st.st_mode)) {
			if (say)
				printf("vm_kill: %s: wrong type\n", e->name);
			bad++;
			continue;
		}
		if (e->dir)
			continue;
		if ((size_t)st.st_size != e->len) {
			if (say)
				printf("vm_kill: %s: size %lld, model %zu\n",
				       e->name, (long long)st.st_size, e->len);
			bad++;
			continue;
		}
		{
			int fd = open(p, O_RDONLY);
			size_t off = 0;
			ssize_t got;

			if (fd < 0) {
				bad++;
				continue;
			}
			while (off < e->len &&
			       (got = read(fd, buf, sizeof(buf))) > 0) {
				for (ssize_t i = 0; i < got; i++) {
					if (buf[i] != vmk_byte(e->id, off + i)) {
						if (say)
							printf("vm_kill: %s: byte %zu differs\n",
							       e->name,
							       off + (size_t)i);
						bad++;
						got = -1;
						break;
					}
				}
				if (got < 0)
					break;
				off += (size_t)got;
			}
			close(fd);
		}
	}
	closedir(dh);
	if (seen != m->n) {
		if (say)
			printf("vm_kill: %zu of the model's %zu names missing\n",
			       m->n - seen, m->n);
		bad++;
	}
	return bad;
}

static int verify(const char *dir, const char *log)
{
	struct vmk_model a, b;
	FILE *f = fopen(log, "r");
	long n = 0, v, expect = 0;
	int ra, rb;

	if (!f) {
		perror(log);
		return 2;
	}
	while (fscanf(f, "%ld", &v) == 1) {
		if (v != expect++) {
			printf("vm_kill: log out of order at step %ld\n", v);
			return 1;
		}
		n++;
	}
	fclose(f);
	vmk_model(&a, n);
	vmk_model(&b, n + 1);
	ra = vmk_compare(dir, &a, 0);
	rb = vmk_compare(dir, &b, 0);
	if (ra == 0 || rb == 0) {
		printf("vm_kill: verify: %ld steps answered, all there; the "
		       "step in flight %s\n",
		       n, ra == 0 ? "left nothing" : "is there whole");
		return 0;
	}
	printf("vm_kill: verify: %ld steps answered; the tree matches neither "
	       "the model after them nor after one more:\n", n);
	printf("vm_kill: against the model after %ld steps:\n", n);
	vmk_compare(dir, &a, 1);
	printf("vm_kill: against the model after %ld steps:\n", n + 1);
	vmk_compare(dir, &b, 1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "work"))
		return work(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "verify"))
		return verify(argv[2], argv[3]);
	fprintf(stderr, "usage: vm_kill work|verify DIR LOG\n");
	return 2;
}
