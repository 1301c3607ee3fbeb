/*
 * fs_acl.c - POSIX ACLs: the values of the xattrs system.posix_acl_access
 * and system.posix_acl_default, in the form the kernel hands them over
 * (format.h; fmt_acl_check says which are valid, for mount and fsck
 * alike).  pmfs stores them as xattrs like any other; what it adds is
 * what ext4 and xfs do around them (the kernel's fs/posix_acl.c):
 *   - an access ACL and the mode's rwx bits are one thing: setting the
 *     ACL sets the mode (acl_to_mode), in the same commit, and an ACL the
 *     mode says in full is not stored; chmod rewrites the ACL
 *     (acl_chmod), in the same commit as the mode;
 *   - a new file or directory in a directory with a default ACL starts
 *     with that ACL as its access ACL, masked by the mode it was created
 *     with (acl_create_masq), and a new directory inherits the default
 *     ACL too; without a default ACL the umask applies (the kernel leaves
 *     it to the filesystem once ACLs are on).
 * The kernel checks permissions against the ACLs (FUSE_POSIX_ACL).
 */
#include <string.h>
#include <sys/stat.h>

#include "format/fmt.h"
#include "fs/fs_int.h"

/* Entries of a checked ACL (fmt_acl_check) of n bytes; the value may be
 * unaligned, so entries are copied in and out. */
static size_t acl_count(size_t n)
{
	return (n - sizeof(struct pmfs_acl_header)) /
	       sizeof(struct pmfs_acl_entry);
}

static void set_perm(void *v, size_t i, unsigned perm)
{
	struct pmfs_acl_entry e = fmt_acl_entry(v, i);

	e.perm = (le16)(perm & 7);
	memcpy((uint8_t *)v + sizeof(struct pmfs_acl_header) + i * sizeof(e),
	       &e, sizeof(e));
}

int fs_acl_name(const char *name)
{
	return fmt_acl_name(name, strlen(name));
}

bool fs_acl_to_mode(const void *v, size_t n, uint32_t *mode)
{
	size_t cnt = acl_count(n);
	uint32_t m = 0;
	bool equiv = true;

	for (size_t i = 0; i < cnt; i++) {
		unsigned p = fmt_acl_entry(v, i).perm & 7u;

		switch (fmt_acl_entry(v, i).tag) {
		case PMFS_ACL_USER_OBJ:
			m |= p << 6;
			break;
		case PMFS_ACL_GROUP_OBJ:
			m |= p << 3;
			break;
		case PMFS_ACL_OTHER:
			m |= p;
			break;
		case PMFS_ACL_MASK: /* after GROUP_OBJ: the group bits are the mask */
			m = (m & ~(uint32_t)S_IRWXG) | p << 3;
			equiv = false;
			break;
		default:
			equiv = false;
			break;
		}
	}
	*mode = (*mode & ~(uint32_t)0777) | m;
	return equiv;
}

/* The entry with tag, or cnt when there is none. */
static size_t find_tag(const void *v, size_t cnt, unsigned tag)
{
	size_t i;

	for (i = 0; i < cnt && fmt_acl_entry(v, i).tag != tag; i++)
		;
	return i;
}

void fs_acl_chmod(void *v, size_t n, uint32_t mode)
{
	size_t cnt = acl_count(n);
	size_t mask = find_tag(v, cnt, PMFS_ACL_MASK);

	for (size_t i = 0; i < cnt; i++) {
		switch (fmt_acl_entry(v, i).tag) {
		case PMFS_ACL_USER_OBJ:
			set_perm(v, i, (mode & S_IRWXU) >> 6);
			break;
		case PMFS_ACL_GROUP_OBJ:
			if (mask == cnt)
				set_perm(v, i, (mode & S_IRWXG) >> 3);
			break;
		case PMFS_ACL_MASK:
			set_perm(v, i, (mode & S_IRWXG) >> 3);
			break;
		case PMFS_ACL_OTHER:
			set_perm(v, i, mode & S_IRWXO);
			break;
		}
	}
}

bool fs_acl_create_masq(void *v, size_t n, uint32_t *mode)
{
	size_t cnt = acl_count(n);
	size_t grp = find_tag(v, cnt, PMFS_ACL_MASK);
	uint32_t m = *mode;
	bool equiv = true;

	if (grp == cnt)
		grp = find_tag(v, cnt, PMFS_ACL_GROUP_OBJ);
	else
		equiv = false;
	for (size_t i = 0; i < cnt; i++) {
		unsigned p = fmt_acl_entry(v, i).perm;

		switch (fmt_acl_entry(v, i).tag) {
		case PMFS_ACL_USER_OBJ:
			p &= m >> 6;
			m &= p << 6 | ~(uint32_t)S_IRWXU;
			set_perm(v, i, p);
			break;
		case PMFS_ACL_OTHER:
			p &= m;
			m &= p | ~(uint32_t)S_IRWXO;
			set_perm(v, i, p);
			break;
		case PMFS_ACL_USER:
		case PMFS_ACL_GROUP:
			equiv = false;
			break;
		}
	}
	if (grp < cnt) { /* the mask, or the owning group without one */
		unsigned p = fmt_acl_entry(v, grp).perm & m >> 3;

		m &= p << 3 | ~(uint32_t)S_IRWXG;
		set_perm(v, grp, p);
	}
	*mode = m;
	return equiv;
}
