/*
 * fsx.c - random-operation file exerciser with an oracle, after the fsx of
 * BSD/xfstests: random writes, reads, truncates, fallocates (extend, keep
 * size, punch hole, zero range) and mmap reads and writes (MAP_SHARED +
 * msync) on one file, each checked byte for byte against an in-memory
 * model of the file.  Used by tests/mount/test_fsx.c on a real pmfs mount
 * and by `make fsx` (tests/mount/mount.mk) for long runs.
 *
 *   fsx [-n OPS] [-S SEED] [-l MAXSIZE] [-o MAXOP] [-c CHECK] [-d DUMP] FILE
 *
 * -n operations (default 100000); -S seed (default 1); -l the largest file
 * size (default 256 KiB); -o the largest single operation (default 64 KiB;
 * most operations are at most 4 KiB); -c a whole-file check (read, stat
 * size) every CHECK operations (default 1000) and at the end, with a close
 * and reopen; -d writes the model (what FILE must hold) to DUMP at the
 * end, for a check after a remount.  Exit status 0 when every operation and check matched; 1 on
 * the first difference, after printing the last operations and the
 * first differing offset; 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HIST 32 /* operations kept for the failure report */

enum op {
	OP_WRITE,
	OP_READ,
	OP_TRUNC,
	OP_FALLOC,
	OP_FALLOC_KEEP,
	OP_PUNCH,
	OP_ZERO,
	OP_MAPREAD,
	OP_MAPWRITE,
	OP_NOPS
};

static const char *const op_names[OP_NOPS] = {
	"write", "read", "truncate", "fallocate", "fallocate-keep",
	"punch", "zero-range", "mapread", "mapwrite",
};

/* Relative frequency of each operation. */
static const unsigned op_weight[OP_NOPS] = { 30, 25, 6, 4, 4, 6, 5, 10, 10 };

struct hist {
	uint64_t n;
	enum op op;
	uint64_t off, len, size_after;
};

static struct {
	const char *file, *dump;
	int fd;
	uint64_t seed, nops, maxsize, maxop, check;
	unsigned char *model; /* what the file must hold */
	unsigned char *buf;   /* scratch */
	uint64_t size;        /* what its size must be */
	uint64_t pagesize;
	struct hist hist[HIST];
	uint64_t done;
	uint64_t counts[OP_NOPS];
} F;

/* xorshift64*: reproducible for a seed, independent of libc */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ull;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void report(void)
{
	uint64_t first = F.done >= HIST ? F.done - HIST + 1 : 1;

	fprintf(stderr, "fsx: %s seed %" PRIu64 ": last operations:\n", F.file,
		F.seed);
	for (uint64_t n = first; n <= F.done && n; n++) {
		const struct hist *h = &F.hist[n % HIST];

		fprintf(stderr,
			"  #%" PRIu64 " %-14s off %" PRIu64 " len %" PRIu64
			" -> size %" PRIu64 "\n",
			h->n, op_names[h->op], h->off, h->len, h->size_after);
	}
}

__attribute__((format(printf, 1, 2), noreturn)) static void fail(
	const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsx: %s: operation #%" PRIu64 ": ", F.file,
		F.done + 1);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	report();
	exit(1);
}

/* Compare got[0..len) with the model at off; fail at the first byte. */
static void compare(const unsigned char *got, uint64_t off, uint64_t len,
		    const char *how)
{
	if (!memcmp(got, F.model + off, len))
		return;
	for (uint64_t i = 0; i < len; i++)
		if (got[i] != F.model[off + i])
			fail("%s: byte at offset %" PRIu64 " is 0x%02x, "
			     "expected 0x%02x (checked %" PRIu64 "+%" PRIu64 ")",
			     how, off + i, got[i], F.model[off + i], off,
			     len);
}

/* Most operations small, some up to maxop. */
static uint64_t pick_len(void)
{
	uint64_t max = rnd_below(5) ? 4096 : F.maxop;

	return 1 + rnd_below(max < F.maxop ? max : F.maxop);
}

/* An extent [off, off+len) inside [0, limit). */
static void pick_extent(uint64_t limit, uint64_t *off, uint64_t *len)
{
	*off = rnd_below(limit);
	*len = pick_len();
	if (*off + *len > limit)
		*len = limit - *off;
}

static void fill(unsigned char *p, uint64_t len)
{
	uint64_t v = rnd();

	for (uint64_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			v = rnd();
		p[i] = (unsigned char)(v >> ((i & 7) * 8));
		if (!p[i])
			p[i] = 1; /* a written byte is never mistaken for 0 */
	}
}

static void set_size(uint64_t size)
{
	if (size < F.size)
		memset(F.model + size, 0, F.size - size);
	F.size = size;
}

static void do_write(uint64_t off, uint64_t len)
{
	ssize_t n;

	fill(F.buf, len);
	n = pwrite(F.fd, F.buf, len, (off_t)off);
	if (n != (ssize_t)len)
		fail("pwrite %" PRIu64 "+%" PRIu64 ": %zd (%s)", off, len, n,
		     strerror(errno));
	memcpy(F.model + off, F.buf, len);
	if (off + len > F.size)
		F.size = off + len;
}

static void do_read(uint64_t off, uint64_t len)
{
	uint64_t want = off >= F.size ? 0
			: off + len > F.size ? F.size - off : len;
	ssize_t n = pread(F.fd, F.buf, len, (off_t)off);

	if (n != (ssize_t)want)
		fail("pread %" PRIu64 "+%" PRIu64 ": %zd, expected %" PRIu64
		     " (%s)", off, len, n, want, n < 0 ? strerror(errno) : "");
	compare(F.buf, off, want, "pread");
}

static void do_falloc(int mode, uint64_t off, uint64_t len)
{
	if (fallocate(F.fd, mode, (off_t)off, (off_t)len) != 0)
		fail("fallocate mode %#x %" PRIu64 "+%" PRIu64 ": %s", mode,
		     off, len, strerror(errno));
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint64_t end = off + len;

		if (mode & FALLOC_FL_KEEP_SIZE && end > F.size)
			end = F.size;
		if (end > off)
			memset(F.model + off, 0, end - off);
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > F.size)
		F.size = off + len;
}

/* mmap [off, off+len) of the file (page-aligned around it). */
static unsigned char *map(uint64_t off, uint64_t len, int prot,
			  uint64_t *delta, uint64_t *mlen)
{
	uint64_t start = off & ~(F.pagesize - 1);
	void *p;

	*delta = off - start;
	*mlen = *delta + len;
	p = mmap(NULL, *mlen, prot, MAP_SHARED, F.fd, (off_t)start);
	if (p == MAP_FAILED)
		fail("mmap %" PRIu64 "+%" PRIu64 ": %s", start, *mlen,
		     strerror(errno));
	return p;
}

static void do_mapread(uint64_t off, uint64_t len)
{
	uint64_t delta, mlen;
	unsigned char *p = map(off, len, PROT_READ, &delta, &mlen);

	compare(p + delta, off, len, "mmap read");
	munmap(p, mlen);
}

static void do_mapwrite(uint64_t off, uint64_t len)
{
	uint64_t delta, mlen;
	unsigned char *p = map(off, len, PROT_READ | PROT_WRITE, &delta,
			       &mlen);

	fill(p + delta, len);
	memcpy(F.model + off, p + delta, len);
	if (msync(p, mlen, MS_SYNC) != 0)
		fail("msync %" PRIu64 "+%" PRIu64 ": %s", off, len,
		     strerror(errno));
	munmap(p, mlen);
}

/* Whole file: size by fstat and content by read. */
static void check_all(const char *when)
{
	struct stat st;
	ssize_t n;

	if (fstat(F.fd, &st) != 0)
		fail("fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != F.size)
		fail("%s: size %jd, expected %" PRIu64, when,
		     (intmax_t)st.st_size, F.size);
	n = pread(F.fd, F.buf, F.maxsize + 1, 0);
	if (n != (ssize_t)F.size)
		fail("%s: read of the whole file: %zd, expected %" PRIu64,
		     when, n, F.size);
	compare(F.buf, 0, F.size, when);
}

static void reopen(void)
{
	if (close(F.fd) != 0)
		fail("close: %s", strerror(errno));
	F.fd = open(F.file, O_RDWR);
	if (F.fd < 0)
		fail("reopen: %s", strerror(errno));
}

static void dump_model(void)
{
	int fd = open(F.dump, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, F.model, F.size) != (ssize_t)F.size ||
	    close(fd) != 0)
		fail("dump to %s: %s", F.dump, strerror(errno));
}

static enum op pick_op(void)
{
	unsigned total = 0, r;

	for (int i = 0; i < OP_NOPS; i++)
		total += op_weight[i];
	r = (unsigned)rnd_below(total);
	for (int i = 0; i < OP_NOPS; i++) {
		if (r < op_weight[i])
			return (enum op)i;
		r -= op_weight[i];
	}
	return OP_READ;
}

static void step(void)
{
	enum op op = pick_op();
	uint64_t off = 0, len = 0;
	struct hist *h;

	/* mmap only inside the file: past EOF is SIGBUS, not data */
	if ((op == OP_MAPREAD || op == OP_MAPWRITE) && F.size == 0)
		op = OP_WRITE;
	switch (op) {
	case OP_WRITE:
		pick_extent(F.maxsize, &off, &len);
		do_write(off, len);
		break;
	case OP_READ:
		pick_extent(F.maxsize, &off, &len);
		do_read(off, len);
		break;
	case OP_TRUNC:
		/* mostly shrink a little or grow a little */
		off = rnd_below(F.maxsize + 1);
		if (ftruncate(F.fd, (off_t)off) != 0)
			fail("ftruncate %" PRIu64 ": %s", off, strerror(errno));
		set_size(off);
		break;
	case OP_FALLOC:
	case OP_FALLOC_KEEP:
	case OP_PUNCH:
	case OP_ZERO: {
		static const int modes[] = {
			0, FALLOC_FL_KEEP_SIZE,
			FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			FALLOC_FL_ZERO_RANGE,
		};
		int mode = modes[op - OP_FALLOC];

		pick_extent(F.maxsize, &off, &len);
		if (op == OP_ZERO && rnd_below(2))
			mode |= FALLOC_FL_KEEP_SIZE;
		do_falloc(mode, off, len);
		break;
	}
	case OP_MAPREAD:
	case OP_MAPWRITE:
		pick_extent(F.size, &off, &len);
		if (op == OP_MAPREAD)
			do_mapread(off, len);
		else
			do_mapwrite(off, len);
		break;
	default:
		break;
	}
	F.done++;
	F.counts[op]++;
	h = &F.hist[F.done % HIST];
	h->n = F.done;
	h->op = op;
	h->off = off;
	h->len = len;
	h->size_after = F.size;
}

static int usage(void)
{
	fprintf(stderr, "usage: fsx [-n OPS] [-S SEED] [-l MAXSIZE] "
			"[-o MAXOP] [-c CHECK] [-d DUMP] FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	int c;

	F.nops = 100000;
	F.seed = 1;
	F.maxsize = 256 * 1024;
	F.maxop = 64 * 1024;
	F.check = 1000;
	while ((c = getopt(argc, argv, "n:S:l:o:c:d:")) != -1) {
		uint64_t v = strtoull(optarg ? optarg : "0", NULL, 0);

		switch (c) {
		case 'n': F.nops = v; break;
		case 'S': F.seed = v; break;
		case 'l': F.maxsize = v; break;
		case 'o': F.maxop = v; break;
		case 'c': F.check = v; break;
		case 'd': F.dump = optarg; break;
		default: return usage();
		}
	}
	if (optind + 1 != argc || F.maxsize == 0 || F.maxop == 0)
		return usage();
	F.file = argv[optind];
	F.pagesize = (uint64_t)sysconf(_SC_PAGESIZE);
	rnd_state = F.seed * 0x9e3779b97f4a7c15ull + 1;
	F.model = calloc(1, F.maxsize + F.maxop + 1);
	F.buf = calloc(1, F.maxsize + F.maxop + 1);
	if (!F.model || !F.buf) {
		fprintf(stderr, "fsx: out of memory\n");
		return 1;
	}
	F.fd = open(F.file, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (F.fd < 0) {
		fprintf(stderr, "fsx: %s: %s\n", F.file, strerror(errno));
		return 1;
	}
	while (F.done < F.nops) {
		step();
		if (F.check && F.done % F.check == 0) {
			check_all("periodic check");
			reopen();
		}
	}
	check_all("final check");
	reopen();
	check_all("check after reopen");
	close(F.fd);
	if (F.dump)
		dump_model();
	printf("fsx: %s: %" PRIu64 " operations, seed %" PRIu64 ", all "
	       "matched (", F.file, F.done, F.seed);
	for (int i = 0; i < OP_NOPS; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", op_names[i],
		       F.counts[i]);
	printf(")\n");
	free(F.model);
	free(F.buf);
	return 0;
}
