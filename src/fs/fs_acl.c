/*
 * fs_acl.c - POSIX ACLs in the form the kernel hands them over (the
 * values of the xattrs system.posix_acl_access and
 * system.posix_acl_default): a 4-byte version (2), then entries of a
 * 2-byte tag, a 2-byte permission (rwx) and a 4-byte id, little-endian,
 * sorted by tag and id.  pmfs stores them as xattrs like any other; what
 * it adds is what ext4 and xfs do around them (fs/posix_acl.c):
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
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs_int.h"

#define ACL_VERSION 2
#define ACL_HDR 4
#define ACL_ENT 8
#define ACL_UNDEFINED_ID 0xffffffffu

enum {
	TAG_USER_OBJ = 0x01,
	TAG_USER = 0x02,
	TAG_GROUP_OBJ = 0x04,
	TAG_GROUP = 0x08,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20,
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Entry i's tag, permission field, id. */
#define ETAG(v, i) get16((const uint8_t *)(v) + ACL_HDR + (i) * ACL_ENT)
#define EPERM_AT(v, i) ((uint8_t *)(v) + ACL_HDR + (i) * ACL_ENT + 2)
#define EID(v, i) get32((const uint8_t *)(v) + ACL_HDR + (i) * ACL_ENT + 4)

static unsigned eperm(const void *v, size_t i)
{
	return get16(EPERM_AT(v, i));
}

static void set_eperm(void *v, size_t i, unsigned perm)
{
	uint8_t *p = EPERM_AT(v, i);

	p[0] = (uint8_t)(perm & 7);
	p[1] = 0;
}

int fs_acl_name(const char *name)
{
	if (!strcmp(name, FS_ACL_ACCESS))
		return FS_ACL_T_ACCESS;
	if (!strcmp(name, FS_ACL_DEFAULT))
		return FS_ACL_T_DEFAULT;
	return 0;
}

int fs_acl_valid(const void *v, size_t n)
{
	unsigned need = 0, seen = 0, prev_tag = 0;
	uint32_t prev_id = 0;
	size_t cnt;

	if (n < ACL_HDR + ACL_ENT || (n - ACL_HDR) % ACL_ENT ||
	    get32(v) != ACL_VERSION)
		return -EINVAL;
	cnt = (n - ACL_HDR) / ACL_ENT;
	for (size_t i = 0; i < cnt; i++) {
		unsigned tag = ETAG(v, i);

		if (eperm(v, i) & ~7u)
			return -EINVAL;
		switch (tag) {
		case TAG_USER_OBJ:
		case TAG_GROUP_OBJ:
		case TAG_MASK:
		case TAG_OTHER:
			if (seen & tag) /* once each */
				return -EINVAL;
			break;
		case TAG_USER:
		case TAG_GROUP:
			/* named entries: ids ascending within their tag */
			if (prev_tag == tag && EID(v, i) <= prev_id)
				return -EINVAL;
			prev_id = EID(v, i);
			need |= TAG_MASK;
			break;
		default:
			return -EINVAL;
		}
		if (tag < prev_tag) /* sorted by tag */
			return -EINVAL;
		prev_tag = tag;
		seen |= tag;
	}
	need |= TAG_USER_OBJ | TAG_GROUP_OBJ | TAG_OTHER;
	return (seen & need) == need ? 0 : -EINVAL;
}

bool fs_acl_to_mode(const void *v, size_t n, uint32_t *mode)
{
	size_t cnt = (n - ACL_HDR) / ACL_ENT;
	uint32_t m = 0;
	bool equiv = true;

	for (size_t i = 0; i < cnt; i++) {
		unsigned p = eperm(v, i) & 7;

		switch (ETAG(v, i)) {
		case TAG_USER_OBJ:
			m |= p << 6;
			break;
		case TAG_GROUP_OBJ:
			m |= p << 3;
			break;
		case TAG_OTHER:
			m |= p;
			break;
		case TAG_MASK: /* after GROUP_OBJ: the group bits are the mask */
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

	for (i = 0; i < cnt && ETAG(v, i) != tag; i++)
		;
	return i;
}

void fs_acl_chmod(void *v, size_t n, uint32_t mode)
{
	size_t cnt = (n - ACL_HDR) / ACL_ENT;
	size_t mask = find_tag(v, cnt, TAG_MASK);

	for (size_t i = 0; i < cnt; i++) {
		switch (ETAG(v, i)) {
		case TAG_USER_OBJ:
			set_eperm(v, i, (mode & S_IRWXU) >> 6);
			break;
		case TAG_GROUP_OBJ:
			if (mask == cnt)
				set_eperm(v, i, (mode & S_IRWXG) >> 3);
			break;
		case TAG_MASK:
			set_eperm(v, i, (mode & S_IRWXG) >> 3);
			break;
		case TAG_OTHER:
			set_eperm(v, i, mode & S_IRWXO);
			break;
		}
	}
}

bool fs_acl_create_masq(void *v, size_t n, uint32_t *mode)
{
	size_t cnt = (n - ACL_HDR) / ACL_ENT;
	size_t grp = find_tag(v, cnt, TAG_MASK);
	uint32_t m = *mode;
	bool equiv = true;

	if (grp == cnt)
		grp = find_tag(v, cnt, TAG_GROUP_OBJ);
	else
		equiv = false;
	for (size_t i = 0; i < cnt; i++) {
		unsigned p = eperm(v, i);

		switch (ETAG(v, i)) {
		case TAG_USER_OBJ:
			p &= m >> 6;
			m &= p << 6 | ~(uint32_t)S_IRWXU;
			set_eperm(v, i, p);
			break;
		case TAG_OTHER:
			p &= m;
			m &= p | ~(uint32_t)S_IRWXO;
			set_eperm(v, i, p);
			break;
		case TAG_USER:
		case TAG_GROUP:
			equiv = false;
			break;
		}
	}
	if (grp < cnt) { /* the mask, or the owning group without one */
		unsigned p = eperm(v, grp) & m >> 3;

		m &= p << 3 | ~(uint32_t)S_IRWXG;
		set_eperm(v, grp, p);
	}
	*mode = m;
	return equiv;
}
