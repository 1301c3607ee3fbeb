/*
 * mkfs.c - mkfs.pmfs: make a pmfs filesystem on a devdax namespace, a file
 * on an fsdax filesystem, or a plain image file.
 *
 * The options, the refusals (existing filesystems, sizes, labels), the
 * plan (the namespace's size, the bad blocks it reports and those of -l)
 * and the report; the filesystem itself is made by the core's fs_mkfs
 * (src/fs/fs_mkfs.c), with the core's writers, superblock last.  Exit
 * status: 0 made (or would make, with -n), 1 anything else; errors are one
 * line on stderr.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format/fmt.h"
#include "fs/fs.h"
#include "pmemio/pmemio.h"
#include "util/util.h"

#ifndef PMFS_VERSION
#define PMFS_VERSION "0.1"
#endif

#define PROG "mkfs.pmfs"


struct mkfs_opts {
	const char *path;
	const char *label;
	uint8_t uuid[16];
	bool have_uuid;
	bool force;
	bool quiet;
	bool dry_run;
	const char *bbfile;
	uint64_t size;
	bool have_size;
	uint32_t incompat; /* features, FS_MKFS_FEATURES unless -O */
};

/* The features -O names (each an incompat bit of the superblock). */
static const struct mkfs_feature {
	const char *name;
	uint32_t bit;
} mkfs_features[] = {
	{ "large_xattr", PMFS_FEATURE_INCOMPAT_LARGE_XATTR },
};
#define MKFS_NFEATURES (sizeof(mkfs_features) / sizeof(mkfs_features[0]))

/* The plan: what mkfs.pmfs gathered before fs_mkfs. */
struct mkfs_plan {
	uint64_t *bad; /* sorted, unique */
	size_t nbad;
	struct fs_mkfs_info info;
};

/* What the target was before mkfs touched it, to undo on refusal. */
struct mkfs_target {
	bool created;
	bool resized;
	off_t old_size;
};

/* Print "mkfs.pmfs: <message>" on one line of stderr. */
__attribute__((format(printf, 1, 2))) static void mkfs_err(const char *fmt,
							   ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print the usage text on f. */
static void mkfs_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [-L label] [-U uuid] [-f] [-q] [-n] "
		"[-l badblocks-file] [--size SIZE] [-O features] "
		"DEVICE|FILE\n"
		"Make a pmfs filesystem on a devdax device, a file on a "
		"-o dax filesystem, or an image file.\n"
		"\n"
		"  -L, --label LABEL     volume label (at most %d bytes)\n"
		"  -U, --uuid UUID       filesystem uuid (default: random)\n"
		"  -f, --force           overwrite an existing filesystem; "
		"allow shrinking FILE\n"
		"  -q, --quiet           print only errors\n"
		"  -n, --dry-run         show what would be made, write "
		"nothing\n"
		"  -l, --badblocks FILE  block numbers (one per line) to keep "
		"out of use\n"
		"  -s, --size SIZE       create FILE, or extend it, to SIZE "
		"bytes (suffix K, M, G, T)\n"
		"  -O, --features LIST   turn features on (name) or off "
		"(^name), comma-separated;\n"
		"                        large_xattr (on by default): xattr "
		"values up to 64 KiB\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n"
		"\n"
		"Exit status: 0 success, 1 error.\n",
		PMFS_LABEL_MAX);
}

/* ---- parsing ------------------------------------------------------------ */

/* Parse SIZE: decimal bytes with an optional K/M/G/T (binary) suffix,
 * optionally followed by "B" or "iB".  0 or -EINVAL / -ERANGE. */
static int mkfs_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	switch (toupper((unsigned char)*p)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case 'P':
		shift = 50;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (shift) {
		p++;
		if (strcmp(p, "iB") == 0 || strcmp(p, "B") == 0)
			p += strlen(p);
	} else if (strcmp(p, "B") == 0) {
		p++;
	}
	if (*p)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

/* Value of one hex digit, or -1. */
static int mkfs_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse a uuid "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; 0 or -EINVAL. */
static int mkfs_parse_uuid(const char *s, uint8_t uuid[16])
{
	size_t n = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			i++;
			continue;
		}
		hi = mkfs_hexval(s[i]);
		lo = mkfs_hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

/* Format a uuid as 36 characters plus NUL. */
static void mkfs_format_uuid(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* A random (version 4) uuid from getrandom; 0 or -errno. */
static int mkfs_random_uuid(uint8_t uuid[16])
{
	size_t got = 0;

	while (got < 16) {
		ssize_t r = getrandom(uuid + got, 16 - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	return 0;
}

/* Apply -O's list (name or ^name, comma-separated) to *incompat; 0, or
 * -1 after the error. */
static int mkfs_parse_features(const char *list, uint32_t *incompat)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		bool off = *p == '^';
		const struct mkfs_feature *f = NULL;

		for (size_t i = 0; i < MKFS_NFEATURES; i++)
			if (n - off == strlen(mkfs_features[i].name) &&
			    !memcmp(p + off, mkfs_features[i].name, n - off))
				f = &mkfs_features[i];
		if (!f) {
			mkfs_err("unknown feature '%.*s' (known: large_xattr)",
				 (int)n, p);
			return -1;
		}
		if (off)
			*incompat &= ~f->bit;
		else
			*incompat |= f->bit;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Parse the command line into *o; 0, 1 (done: help/version) or -1. */
static int mkfs_parse_args(int argc, char **argv, struct mkfs_opts *o)
{
	static const struct option longopts[] = {
		{ "label", required_argument, NULL, 'L' },
		{ "uuid", required_argument, NULL, 'U' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "badblocks", required_argument, NULL, 'l' },
		{ "size", required_argument, NULL, 's' },
		{ "features", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":L:U:fqnl:s:O:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'L':
			if (strlen(optarg) > PMFS_LABEL_MAX) {
				mkfs_err("label '%.20s...' is %zu bytes long; "
					 "the limit is %d",
					 optarg, strlen(optarg),
					 PMFS_LABEL_MAX);
				return -1;
			}
			o->label = optarg;
			break;
		case 'U':
			if (mkfs_parse_uuid(optarg, o->uuid) != 0) {
				mkfs_err("invalid uuid '%s' (expected the form "
					 "xxxxxxxx-xxxx-xxxx-xxxx-"
					 "xxxxxxxxxxxx)",
					 optarg);
				return -1;
			}
			o->have_uuid = true;
			break;
		case 'f':
			o->force = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'l':
			o->bbfile = optarg;
			break;
		case 's':
			ret = mkfs_parse_size(optarg, &o->size);
			if (ret) {
				mkfs_err("invalid size '%s' (expected bytes "
					 "with an optional K, M, G or T "
					 "suffix)",
					 optarg);
				return -1;
			}
			if (o->size < PMFS_MIN_SIZE) {
				mkfs_err("size '%s' is below the minimum of "
					 "%u MiB",
					 optarg, PMFS_MIN_SIZE >> 20);
				return -1;
			}
			o->have_size = true;
			break;
		case 'O':
			if (mkfs_parse_features(optarg, &o->incompat))
				return -1;
			break;
		case 'h':
			mkfs_usage(stdout);
			return 1;
		case 'V':
			printf(PROG " (pmfs) %s, on-media format version %u, "
				    "crc32c %s\n",
			       PMFS_VERSION, PMFS_FORMAT_VERSION,
			       fmt_crc32c_impl());
			return 1;
		case ':':
			mkfs_err("option '%s' needs an argument; see " PROG
				 " --help",
				 argv[optind - 1]);
			return -1;
		default:
			if (optopt)
				mkfs_err("unknown option '-%c'; see " PROG
					 " --help",
					 optopt);
			else
				mkfs_err("unknown option '%s'; see " PROG
					 " --help",
					 argv[optind - 1]);
			return -1;
		}
	}
	if (optind >= argc) {
		mkfs_err("no device or file given; see " PROG " --help");
		return -1;
	}
	if (argc - optind > 1) {
		mkfs_err("too many arguments ('%s'); give one device or "
			 "file",
			 argv[optind + 1]);
		return -1;
	}
	o->path = argv[optind];
	if (!*o->path) {
		mkfs_err("empty device or file name");
		return -1;
	}
	return 0;
}

/* ---- bad blocks --------------------------------------------------------- */

/* Append blk to a growing array; 0 or -ENOMEM. */
static int mkfs_bad_add(uint64_t **bad, size_t *n, size_t *cap, uint64_t blk)
{
	if (util_grow(bad, cap, *n, sizeof(**bad), 64))
		return -ENOMEM;
	(*bad)[(*n)++] = blk;
	return 0;
}

/* Read the -l file: one decimal block number per line (blank lines and
 * lines starting with '#' skipped).  0 or -1 after printing why. */
static int mkfs_read_bbfile(const char *file, uint64_t **bad, size_t *n,
			    size_t *cap)
{
	FILE *f = fopen(file, "r");
	char line[256];
	unsigned lineno = 0;
	int ret = -1;

	if (!f) {
		mkfs_err("cannot read bad-block list %s: %s", file,
			 strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		uint64_t v;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			mkfs_err("%s:%u: line too long", file, lineno);
			goto out_close;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (!isdigit((unsigned char)*p))
			goto out_bad;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno)
			goto out_bad;
		while (isspace((unsigned char)*end))
			end++;
		if (*end)
			goto out_bad;
		if (mkfs_bad_add(bad, n, cap, v)) {
			mkfs_err("out of memory reading %s", file);
			goto out_close;
		}
		if (*n > 1000000) {
			mkfs_err("%s: too many bad blocks", file);
			goto out_close;
		}
	}
	if (ferror(f)) {
		mkfs_err("error reading %s: %s", file, strerror(errno));
		goto out_close;
	}
	ret = 0;
	goto out_close;
out_bad:
	line[strcspn(line, "\r\n")] = 0;
	mkfs_err("%s:%u: not a block number: '%.40s'", file, lineno, line);
out_close:
	fclose(f);
	return ret;
}

/* qsort comparator for block numbers. */
static int mkfs_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and deduplicate; returns the new count. */
static size_t mkfs_sort_unique(uint64_t *v, size_t n)
{
	size_t k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), mkfs_cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (v[i] != v[k])
			v[++k] = v[i];
	return k + 1;
}

/* ---- detection ---------------------------------------------------------- */

/* Name what the first bytes of the namespace hold, or NULL: an existing
 * pmfs (valid or damaged), ext2/3/4, xfs or btrfs.  buf is ns bytes. */
static const char *mkfs_detect(const uint8_t *buf, uint64_t ns, char *what,
			       size_t wlen)
{
	const struct pmfs_super *sb[2] = {
		(const void *)buf,
		(const void *)(buf + fmt_blk_off(PMFS_SB_COPY_BLOCK)),
	};
	char why[160];

	for (int i = 0; i < 2; i++) {
		int ret = fmt_super_check(sb[i], ns, why, sizeof(why));
		char u[37];

		if (ret == 0) {
			mkfs_format_uuid(sb[i]->uuid, u);
			snprintf(what, wlen,
				 "an existing pmfs filesystem (uuid %s, "
				 "label '%.63s')",
				 u, (const char *)sb[i]->label);
			return what;
		}
		if (ret != -EINVAL) {
			snprintf(what, wlen, "a damaged pmfs filesystem (%s)",
				 why);
			return what;
		}
	}
	if (ns >= 1082 && buf[1080] == 0x53 && buf[1081] == 0xEF) {
		uint32_t compat, incompat;

		memcpy(&compat, buf + 1024 + 0x5C, 4);
		memcpy(&incompat, buf + 1024 + 0x60, 4);
		/* extents, 64bit, flex_bg mean ext4; a journal, ext3 */
		if (incompat & (0x40 | 0x80 | 0x200))
			snprintf(what, wlen, "an ext4 filesystem");
		else if (compat & 0x4)
			snprintf(what, wlen, "an ext3 filesystem");
		else
			snprintf(what, wlen, "an ext2 filesystem");
		return what;
	}
	if (ns >= 4 && memcmp(buf, "XFSB", 4) == 0) {
		snprintf(what, wlen, "an xfs filesystem");
		return what;
	}
	if (ns >= 65608 && memcmp(buf + 65600, "_BHRfS_M", 8) == 0) {
		snprintf(what, wlen, "a btrfs filesystem");
		return what;
	}
	return NULL;
}

/* ---- target ------------------------------------------------------------- */

/* Create or extend an image file for --size, or check the target exists;
 * 0 or -1 after an error message. */
static int mkfs_prepare(const struct mkfs_opts *o, struct mkfs_target *t,
			struct stat *st)
{
	int fd;

	if (stat(o->path, st) != 0) {
		if (errno != ENOENT) {
			mkfs_err("%s: %s", o->path, strerror(errno));
			return -1;
		}
		if (!o->have_size) {
			mkfs_err("%s: no such file or device; give --size "
				 "SIZE to create an image file",
				 o->path);
			return -1;
		}
		memset(st, 0, sizeof(*st));
		if (o->dry_run)
			return 0;
		fd = open(o->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			mkfs_err("cannot create %s: %s", o->path,
				 strerror(errno));
			return -1;
		}
		t->created = true;
		if (ftruncate(fd, (off_t)o->size) != 0) {
			mkfs_err("cannot size %s to %" PRIu64 " bytes: %s",
				 o->path, o->size, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (S_ISDIR(st->st_mode)) {
		mkfs_err("%s: is a directory; give a devdax device or an "
			 "image file",
			 o->path);
		return -1;
	}
	if (!o->have_size)
		return 0;
	if (!S_ISREG(st->st_mode)) {
		mkfs_err("%s: --size applies only to image files; a device "
			 "keeps its own size",
			 o->path);
		return -1;
	}
	if ((uint64_t)st->st_size == o->size)
		return 0;
	if ((uint64_t)st->st_size > o->size && !o->force) {
		mkfs_err("%s is larger (%lld bytes) than --size; refusing to "
			 "shrink it without -f",
			 o->path, (long long)st->st_size);
		return -1;
	}
	if (o->dry_run)
		return 0;
	fd = open(o->path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		mkfs_err("cannot open %s: %s", o->path, strerror(errno));
		return -1;
	}
	t->old_size = st->st_size;
	if (ftruncate(fd, (off_t)o->size) != 0) {
		mkfs_err("cannot resize %s to %" PRIu64 " bytes: %s", o->path,
			 o->size, strerror(errno));
		close(fd);
		return -1;
	}
	t->resized = (uint64_t)st->st_size < o->size; /* undo only a growth */
	close(fd);
	return 0;
}

/* Undo what mkfs_prepare did, after a refusal before any write. */
static void mkfs_undo(const struct mkfs_opts *o, const struct mkfs_target *t)
{
	if (t->created)
		unlink(o->path);
	else if (t->resized && truncate(o->path, t->old_size) != 0)
		mkfs_err("warning: could not shrink %s back to %lld bytes",
			 o->path, (long long)t->old_size);
}

/* ---- summary ------------------------------------------------------------ */

/* Human-readable size, e.g. "64.0 MiB". */
static void mkfs_human(uint64_t bytes, char *out, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
					    "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* Print what was (or would be) made. */
static void mkfs_summary(const struct mkfs_opts *o, const struct mkfs_plan *pl,
			 const struct pmio *p, uint64_t ns)
{
	char hs[32], u[37];

	mkfs_human(pl->info.g.total_blocks * PMFS_BLOCK_SIZE, hs, sizeof(hs));
	mkfs_format_uuid(o->uuid, u);
	if (o->dry_run)
		printf("Would make a pmfs filesystem on %s (dry run, nothing "
		       "written)\n",
		       o->path);
	else
		printf("Made a pmfs filesystem on %s\n", o->path);
	printf("  size:         %s (%" PRIu64 " bytes)\n", hs,
	       pl->info.g.total_blocks * PMFS_BLOCK_SIZE);
	if (ns % PMFS_BLOCK_SIZE)
		printf("  unused tail:  %" PRIu64 " bytes\n",
		       ns % PMFS_BLOCK_SIZE);
	printf("  blocks:       %" PRIu64 " of %u bytes, %" PRIu64 " free\n",
	       pl->info.g.total_blocks, PMFS_BLOCK_SIZE, pl->info.free_blocks);
	printf("  block size:   %u\n", PMFS_BLOCK_SIZE);
	printf("  uuid:         %s\n", u);
	printf("  label:        %s\n", o->label && *o->label ? o->label
							   : "(none)");
	printf("  features:     %s\n",
	       o->incompat & PMFS_FEATURE_INCOMPAT_LARGE_XATTR ? "large_xattr"
							       : "(none)");
	if (p) {
		enum pmio_gran g = pmio_gran(p);
		struct pmio_nsinfo nsi;
		char nsz[32], nal[32];

		const char *force = getenv("PMFS_FORCE_CACHE_LINE");

		if (pmio_namespace(p, &nsi) == 0) {
			mkfs_human(nsi.size, nsz, sizeof(nsz));
			mkfs_human(nsi.align, nal, sizeof(nal));
			printf("  namespace:    %s, %s mode (%s%s), %s, "
			       "alignment %s%s\n",
			       nsi.ns, nsi.mode, nsi.dev,
			       pmio_kind(p) == PMIO_KIND_FILE
				       ? ", holding the file"
				       : "",
			       nsz, nsi.align ? nal : "none",
			       nsi.eadr ? ", persistence domain CPU cache "
					  "(eADR)"
					: "");
		} else {
			printf("  namespace:    none (%s)\n",
			       pmio_kind(p) == PMIO_KIND_DEVDAX
				       ? "a dax device"
				       : "a file outside any NVDIMM namespace");
		}

		printf("  granularity:  %s%s\n", pmio_gran_name(g),
		       g == PMIO_GRAN_PAGE
			       ? " (not DAX: every flush is an msync, slow)"
		       : force && strcmp(force, "1") == 0
			       ? " (forced by PMFS_FORCE_CACHE_LINE: tests "
				 "only)"
			       : "");
		printf("  flush path:   %s\n", pmio_flush_path(p));
	} else {
		printf("  granularity:  unknown (file not created in a dry "
		       "run)\n");
		printf("  flush path:   unknown\n");
	}
	printf("  lanes:        %u\n", pl->info.g.nlanes);
	printf("  bad blocks:   %zu kept out of use\n", pl->nbad);
	printf("  layout:       journal %" PRIu64 "..%" PRIu64
	       ", inode-table dir %" PRIu64 "..%" PRIu64 ", data from %" PRIu64
	       "\n",
	       pl->info.g.journal_start, pl->info.g.journal_start + pl->info.g.nlanes - 1,
	       pl->info.g.itdir_start, pl->info.g.itdir_start + PMFS_ITDIR_BLOCKS - 1,
	       pl->info.g.data_start);
}

/* ---- main --------------------------------------------------------------- */

/* Gather the namespace's own and the -l bad blocks; 0 or -1. */
static int mkfs_badblocks(const struct mkfs_opts *o, const struct pmio *p,
			  struct mkfs_plan *pl)
{
	size_t cap = 0;

	pl->bad = NULL;
	pl->nbad = 0;
	if (o->bbfile && mkfs_read_bbfile(o->bbfile, &pl->bad, &pl->nbad, &cap))
		return -1;
	if (p) {
		const struct pmio_badblock *bb;
		size_t n = pmio_badblocks(p, &bb);

		for (size_t i = 0; i < n; i++) {
			uint64_t first, last;

			if (bb[i].len == 0)
				continue;
			first = fmt_off_blk(bb[i].off);
			last = fmt_off_blk(bb[i].off + bb[i].len - 1);
			if (last - first > 2 * PMFS_BADBLK_MAX) {
				mkfs_err("the namespace reports %" PRIu64
					 " bad blocks in one range; too many "
					 "to keep out of use",
					 last - first + 1);
				return -1;
			}
			for (uint64_t b = first; b <= last; b++)
				if (mkfs_bad_add(&pl->bad, &pl->nbad, &cap, b)) {
					mkfs_err("out of memory");
					return -1;
				}
		}
	}
	pl->nbad = mkfs_sort_unique(pl->bad, pl->nbad);
	return 0;
}

/* Parse, check, plan, write (unless -n), summarise; exit 0 or 1. */
int main(int argc, char **argv)
{
	struct mkfs_opts o = { .incompat = FS_MKFS_FEATURES };
	struct mkfs_target t = { 0 };
	struct mkfs_plan pl = { 0 };
	struct pmio *p = NULL;
	struct stat st;
	char err[512], what[256];
	uint64_t ns;
	int ret = 1, r;

	r = mkfs_parse_args(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 1;
	if (!o.have_uuid && mkfs_random_uuid(o.uuid)) {
		mkfs_err("cannot generate a uuid: %s", strerror(errno));
		return 1;
	}
	if (mkfs_prepare(&o, &t, &st))
		goto out_undo;

	if (o.dry_run && (st.st_mode == 0 ||
			  (S_ISREG(st.st_mode) && st.st_size == 0))) {
		ns = o.size; /* would be created: nothing to open */
	} else {
		struct pmio_opts po = {
			PMIO_O_EXCL | PMIO_O_QUIET |
				(o.dry_run ? PMIO_O_RDONLY : 0),
			o.dry_run ? 0 : PMFS_MIN_SIZE,
		};

		r = pmio_open(o.path, &po, &p, err, sizeof(err));
		if (r) {
			mkfs_err("%s", err);
			goto out_undo;
		}
		ns = pmio_size(p);
		if (o.dry_run && o.have_size && o.size > ns)
			ns = o.size;
		if (mkfs_detect(pmio_base(p), pmio_size(p), what,
				sizeof(what)) &&
		    !o.force) {
			mkfs_err("%s contains %s; use -f to overwrite it",
				 o.path, what);
			goto out_close;
		}
	}
	if (mkfs_badblocks(&o, p, &pl))
		goto out_close;
	{
		struct fs_mkfs_opts mo = {
			.label = o.label,
			.mkfs_time = (uint64_t)time(NULL),
			.bad = pl.bad,
			.nbad = pl.nbad,
			.incompat = o.incompat,
		};

		memcpy(mo.uuid, o.uuid, sizeof(mo.uuid));
		/* a dry run plans it only (the image may not even exist) */
		r = fs_mkfs(o.dry_run ? NULL : p, ns, &mo, &pl.info, err,
			    sizeof(err));
		if (r) {
			mkfs_err("%s%s%s", r == -EINVAL ? o.path : "",
				 r == -EINVAL ? ": " : "", err);
			goto out_close;
		}
	}
	if (!o.dry_run)
		t.created = t.resized = false; /* keep it now */
	if (!o.quiet)
		mkfs_summary(&o, &pl, p, ns);
	if (fflush(stdout) != 0) {
		mkfs_err("cannot write the summary: %s", strerror(errno));
		goto out_close;
	}
	ret = 0;
out_close:
	pmio_close(p);
	free(pl.bad);
out_undo:
	if (ret)
		mkfs_undo(&o, &t);
	return ret;
}
