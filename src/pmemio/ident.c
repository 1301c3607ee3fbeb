/*
 * ident.c - namespace identification for pmio_open: sysfs says what kind of
 * device a device number is, libndctl/libdaxctl say which NVDIMM namespace
 * (if any) it belongs to, in which mode, how large and how aligned it is,
 * and whether its region's persistence domain includes the CPU caches
 * (eADR).  The walk is bus -> region -> namespace (active ones only), as
 * PLATFORM.md describes.  With no NVDIMMs, libndctl still opens and every
 * loop is empty.  Read-only: nothing here changes a namespace.
 */
#include "pmemio/ident.h"

#include <daxctl/libdaxctl.h>
#include <errno.h>
#include <limits.h>
#include <ndctl/libndctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

typedef bool (*ident_match_fn)(struct ndctl_namespace *ndns, const void *key);

/* Copy a possibly-NULL string into a fixed field, always terminated. */
static void ident_copy(char *dst, size_t n, const char *src)
{
	size_t len = src ? strlen(src) : 0;

	if (n == 0)
		return;
	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

/* ndctl's name for a namespace mode. */
const char *pmio_ident_mode_name(enum pmio_ns_mode m)
{
	switch (m) {
	case PMIO_NS_FSDAX:
		return "fsdax";
	case PMIO_NS_DEVDAX:
		return "devdax";
	case PMIO_NS_SECTOR:
		return "sector";
	case PMIO_NS_RAW:
		return "raw";
	case PMIO_NS_UNKNOWN:
		break;
	}
	return "unknown";
}

/*
 * The block device of a namespace: a raw namespace's own, or the one of the
 * personality that claimed it (fsdax: its pfn, e.g. "pmem0"; sector: its
 * btt, e.g. "pmem0s"), for which the namespace itself reports none.  NULL
 * for devdax or when there is none.
 */
static const char *ident_blockdev_name(struct ndctl_namespace *ndns)
{
	struct ndctl_btt *btt = ndctl_namespace_get_btt(ndns);
	struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ndns);
	const char *name = NULL;

	if (btt)
		name = ndctl_btt_get_block_device(btt);
	else if (pfn)
		name = ndctl_pfn_get_block_device(pfn);
	if (!name || !*name)
		name = ndctl_namespace_get_block_device(ndns);
	return name && *name ? name : NULL;
}

/* Fill *id from a namespace that matched. */
static void ident_fill(struct ndctl_namespace *ndns, struct pmio_ident *id)
{
	struct ndctl_region *region = ndctl_namespace_get_region(ndns);
	struct ndctl_pfn *pfn;
	struct ndctl_dax *dax;

	memset(id, 0, sizeof(*id));
	switch (ndctl_namespace_get_mode(ndns)) {
	case NDCTL_NS_MODE_FSDAX:
		id->mode = PMIO_NS_FSDAX;
		break;
	case NDCTL_NS_MODE_DEVDAX:
		id->mode = PMIO_NS_DEVDAX;
		break;
	case NDCTL_NS_MODE_SECTOR:
		id->mode = PMIO_NS_SECTOR;
		break;
	case NDCTL_NS_MODE_RAW:
		id->mode = PMIO_NS_RAW;
		break;
	default:
		id->mode = PMIO_NS_UNKNOWN;
		break;
	}
	ident_copy(id->ns, sizeof(id->ns), ndctl_namespace_get_devname(ndns));
	id->size = ndctl_namespace_get_size(ndns);
	pfn = ndctl_namespace_get_pfn(ndns);
	dax = ndctl_namespace_get_dax(ndns);
	if (id->mode == PMIO_NS_DEVDAX && dax) {
		id->size = ndctl_dax_get_size(dax);
		id->align = ndctl_dax_get_align(dax);
	} else if (id->mode == PMIO_NS_FSDAX && pfn) {
		id->size = ndctl_pfn_get_size(pfn);
		id->align = ndctl_pfn_get_align(pfn);
	}
	if (id->mode != PMIO_NS_DEVDAX)
		ident_copy(id->dev, sizeof(id->dev), ident_blockdev_name(ndns));
	id->eadr = region && ndctl_region_get_persistence_domain(region) ==
				     PERSISTENCE_CPU_CACHE;
}

/* Walk every active namespace; 0 and *id filled at the first match. */
static int ident_walk(ident_match_fn match, const void *key,
		      struct pmio_ident *id)
{
	struct ndctl_ctx *ctx = NULL;
	struct ndctl_bus *bus;
	struct ndctl_region *region;
	struct ndctl_namespace *ndns;
	int ret = -ENOENT;

	if (ndctl_new(&ctx) != 0 || !ctx)
		return -ENOENT;
	ndctl_bus_foreach(ctx, bus) {
		ndctl_region_foreach(bus, region) {
			ndctl_namespace_foreach(region, ndns) {
				if (!ndctl_namespace_is_active(ndns))
					continue;
				if (!match(ndns, key))
					continue;
				ident_fill(ndns, id);
				ret = 0;
				goto out_unref;
			}
		}
	}
out_unref:
	ndctl_unref(ctx);
	return ret;
}

/* Does this devdax namespace own the dax device numbered *key? */
static bool ident_match_dax(struct ndctl_namespace *ndns, const void *key)
{
	const dev_t *rdev = key;
	struct ndctl_dax *dax = ndctl_namespace_get_dax(ndns);
	struct daxctl_region *dregion;
	struct daxctl_dev *dev;

	if (!dax)
		return false;
	dregion = ndctl_dax_get_daxctl_region(dax);
	if (!dregion)
		return false;
	daxctl_dev_foreach(dregion, dev) {
		if ((unsigned)daxctl_dev_get_major(dev) == major(*rdev) &&
		    (unsigned)daxctl_dev_get_minor(dev) == minor(*rdev))
			return true;
	}
	return false;
}

/* Is the block device named *key (e.g. "pmem0") this namespace's? */
static bool ident_match_blk(struct ndctl_namespace *ndns, const void *key)
{
	const char *name = key;
	const char *bdev = ident_blockdev_name(ndns);

	return bdev && strcmp(bdev, name) == 0;
}

/* Basename of the target of a sysfs link into buf; 0 or -errno. */
static int ident_link_base(const char *link, char *buf, size_t n)
{
	char target[PATH_MAX];
	const char *slash;
	ssize_t len;

	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		return -errno;
	target[len] = '\0';
	slash = strrchr(target, '/');
	ident_copy(buf, n, slash ? slash + 1 : target);
	return 0;
}

/* Identify a character device (see ident.h); reads sysfs only. */
int pmio_ident_chardev(dev_t rdev, struct pmio_ident *id)
{
	char link[96];
	char subsys[64];
	int ret;

	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem",
		 major(rdev), minor(rdev));
	if (ident_link_base(link, subsys, sizeof(subsys)) != 0 ||
	    strcmp(subsys, "dax") != 0)
		return -ENODEV;
	ret = ident_walk(ident_match_dax, &rdev, id);
	if (ret != 0)
		return -ENXIO;
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major(rdev),
		 minor(rdev));
	if (ident_link_base(link, id->dev, sizeof(id->dev)) != 0)
		id->dev[0] = '\0';
	return 0;
}

/* Identify a block device (see ident.h); reads sysfs only. */
int pmio_ident_blockdev(dev_t dev, struct pmio_ident *id)
{
	char link[96];
	char part[112];
	char real[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev),
		 minor(dev));
	if (!realpath(link, real))
		return -ENOENT;
	snprintf(part, sizeof(part), "%s/partition", link);
	if (stat(part, &st) == 0) {
		/* A partition: its parent folder in sysfs is the disk. */
		slash = strrchr(real, '/');
		if (!slash || slash == real)
			return -ENOENT;
		*slash = '\0';
	}
	slash = strrchr(real, '/');
	if (!slash)
		return -ENOENT;
	/* Only NVDIMM namespaces make pmemN block devices: skip the walk. */
	if (strncmp(slash + 1, "pmem", 4) != 0)
		return -ENOENT;
	return ident_walk(ident_match_blk, slash + 1, id);
}
