/*
 * pass6.c - pass 6: link counts, sizes, xattrs, symlinks.
 *
 * With the tree settled by pass 5, counts are recomputed from the entries:
 * a file's link count must equal the number of entries naming it, a
 * directory's 2 plus its subdirectories.  A regular file must not have
 * data blocks past its size (fsck grows the size to cover them: nothing
 * that was written is dropped); a symlink's size must be its target's
 * length.  Every xattr name must be free of NUL bytes and in one of the
 * namespaces Linux knows (user., trusted., security., system.), and a
 * POSIX ACL's value must be one (fmt_acl_check: mount.pmfs refuses to
 * hand another to the kernel), or the xattr is removed (lengths were
 * checked when pass 3 read the entries: a bad one cut the log; so were
 * symlink targets, which must hold no NUL).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "format/fmt.h"
#include "fsck.h"

/* Count, for every inode, the entries naming it and its subdirectories. */
static void recount(struct fsck *f)
{
	struct fino *ip;

	FOR_EACH_INO(f, ip, ino)
	{
		ip->refs = 0;
		ip->subdirs = 0;
	}
	FOR_EACH_INO(f, ip, ino)
	{
		if (!S_ISDIR(ip->mode))
			continue;
		for (size_t i = 0; i < ip->nde; i++) {
			struct fino *t = fsck_ino(f, ip->de[i].ino);

			if (!t || t->gen != ip->de[i].gen)
				continue;
			t->refs++;
			if (S_ISDIR(t->mode))
				ip->subdirs++;
		}
	}
}

/* The namespaces Linux has: a name is PREFIX.something. */
static bool xattr_ns_ok(const char *name, size_t nlen)
{
	static const char *const ns[] = { "user.", "trusted.", "security.",
					  "system." };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		size_t n = strlen(ns[i]);

		if (nlen > n && memcmp(name, ns[i], n) == 0)
			return true;
	}
	return false;
}

/* Remove xattrs whose names no Linux namespace has, and ACLs that are
 * not valid. */
static void check_xattrs(struct fsck *f, struct fino *ip)
{
	size_t i = 0;

	while (i < ip->nxa && !f->operr) {
		struct fxattr *x = &ip->xa[i];
		const char *why = NULL;
		bool fix;

		if (memchr(x->name, 0, x->nlen))
			why = "with a NUL byte";
		else if (!xattr_ns_ok(x->name, x->nlen))
			why = "outside the user., trusted., security. and "
			      "system. namespaces";
		if (why)
			fix = fsck_problem(f, 0, "xattr-name", ip->ino,
					   "Remove the xattr",
					   "Inode %" PRIu64
					   ": xattr name %s ('%s%s')",
					   ip->ino, why, x->name,
					   memchr(x->name, 0, x->nlen) ? "..."
								       : "");
		else if (x->bad_acl)
			fix = fsck_problem(f, 0, "xattr-acl", ip->ino,
					   "Remove the xattr",
					   "Inode %" PRIu64 ": xattr %s holds "
					   "no valid POSIX ACL",
					   ip->ino, x->name);
		else
			fix = false;
		if (!fix) {
			i++;
			continue;
		}
		if (fsck_xattr_del(f, ip, i, 0)) /* pass 4 settled its blocks */
			return; /* the model removed it on success */
	}
}

int fsck_pass6(struct fsck *f)
{
	struct fino *ip;
	uint64_t fixed_links = 0, done = 0;

	fsck_pass(f, 6, "Checking link counts, sizes, xattrs, symlinks");
	recount(f);
	FOR_EACH_INO(f, ip, ino)
	{
		uint32_t want;

		if (f->operr)
			return -1;
		fsck_progress(f, done++, f->ninodes);
		want = S_ISDIR(ip->mode) ? 2 + ip->subdirs : ip->refs;
		if (!S_ISDIR(ip->mode) && ip->refs == 0)
			want = ip->nlink; /* reported by pass 5 */
		if (ip->nlink != want) {
			if (fsck_problem(f, 0, "link-count", ip->ino,
					 "Fix it",
					 "Inode %" PRIu64 ": link count %u, "
					 "should be %u",
					 ip->ino, ip->nlink, want) &&
			    fsck_set_attr(f, ip, PMFS_AT_NLINK, want, 0, 0) ==
				    0)
				fixed_links++;
		}
		if (S_ISREG(ip->mode)) {
			uint64_t end = 0;

			for (size_t i = 0; i < ip->next; i++)
				if (!(ip->ext[i].flags & PMFS_WR_UNWRITTEN) &&
				    ip->ext[i].pgoff + ip->ext[i].n > end)
					end = ip->ext[i].pgoff + ip->ext[i].n;
			if (end > (ip->size + PMFS_BLOCK_SIZE - 1) >>
					  PMFS_BLOCK_SHIFT &&
			    fsck_problem(f, 0, "size", ip->ino,
					 "Grow the size to cover them",
					 "Inode %" PRIu64 ": size %" PRIu64
					 " but data blocks up to file block %" PRIu64,
					 ip->ino, ip->size, end - 1))
				fsck_set_attr(f, ip, PMFS_AT_SIZE, 0,
					      end << PMFS_BLOCK_SHIFT, 0);
		}
		if (S_ISLNK(ip->mode) && ip->size != ip->sllen &&
		    fsck_problem(f, 0, "symlink-size", ip->ino, "Fix it",
				 "Inode %" PRIu64 ": symlink size %" PRIu64
				 ", target is %u bytes",
				 ip->ino, ip->size, ip->sllen))
			fsck_set_attr(f, ip, PMFS_AT_SIZE, 0, ip->sllen, 0);
		check_xattrs(f, ip);
	}
	fsck_progress(f, 1, 1);
	fsck_info(f, "  %" PRIu64 " link counts fixed", fixed_links);
	return f->operr ? -1 : 0;
}
