/*
 * ident.h - private to src/pmemio: identifying what a path is before it is
 * handed to libpmem2.  A character device is checked to be a dax device and
 * looked up among the NVDIMM namespaces libndctl lists (libpmem2 must never
 * see a dax device outside a namespace, such as hmem or CXL memory); a
 * block device, or the device holding a regular file, is looked up by its
 * kernel name.  Nothing here maps or writes anything.
 */
#ifndef PMFS_PMEMIO_IDENT_H
#define PMFS_PMEMIO_IDENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum pmio_ns_mode {
	PMIO_NS_UNKNOWN = 0,
	PMIO_NS_FSDAX,
	PMIO_NS_DEVDAX,
	PMIO_NS_SECTOR,
	PMIO_NS_RAW,
};

/* What libndctl/libdaxctl say about the namespace behind a device. */
struct pmio_ident {
	enum pmio_ns_mode mode;
	char ns[32];          /* e.g. "namespace0.0" */
	char dev[32];         /* e.g. "dax0.0", "pmem0", "pmem0s" */
	uint64_t size;        /* usable bytes of the namespace */
	uint64_t align;       /* mapping alignment (devdax, fsdax pfn) */
	bool eadr;            /* region persistence domain is the CPU cache */
};

/* Name of a namespace mode as ndctl prints it ("devdax", "sector", ...). */
const char *pmio_ident_mode_name(enum pmio_ns_mode m);

/*
 * Character device `rdev`: 0 and *id filled when it is a dax device of an
 * NVDIMM devdax namespace; -ENODEV when it is not a dax device at all;
 * -ENXIO when it is a dax device that no namespace owns (hmem, CXL).
 */
int pmio_ident_chardev(dev_t rdev, struct pmio_ident *id);

/*
 * Block device `dev` (a partition counts as its whole disk): 0 and *id
 * filled when it is the block device of an NVDIMM namespace; -ENOENT when
 * it is not (tmpfs, a loop device, a disk).
 */
int pmio_ident_blockdev(dev_t dev, struct pmio_ident *id);

#endif /* PMFS_PMEMIO_IDENT_H */
