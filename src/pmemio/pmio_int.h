/*
 * pmio_int.h - private to src/pmemio: the mapping handle and the hooks by
 * which pmemio.c (open, map, primitives, counters) and record.c (the
 * recording backend) meet.
 */
#ifndef PMFS_PMIO_INT_H
#define PMFS_PMIO_INT_H

#include "pmemio/arch.h"
#include "pmemio/ident.h"
#include "pmemio/pmemio.h"

struct pmem2_source;
struct pmem2_map;
struct pmio_rec;

struct pmio {
	void *base;
	uint64_t size;
	enum pmio_gran gran;
	enum pmio_kind kind;
	unsigned flags;                /* PMIO_O_* */
	const struct pmio_arch *arch;
	int fd;
	bool fd_writable;              /* fd open O_RDWR */
	struct pmem2_source *src;
	struct pmem2_map *map;
	struct pmio_badblock *bb;
	size_t nbb;
	char flush_path[48];
	struct pmio_ident ident;       /* valid when has_ident */
	bool has_ident;
	struct pmio_rec *rec; /* non-NULL with PMIO_O_RECORD */
};

/* record.c: called by pmemio.c */
int pmio_rec_attach(struct pmio *p);  /* after mapping; 0 or -errno */
void pmio_rec_detach(struct pmio *p); /* at close */
/* Before the flush instructions run for [addr, addr+len). */
void pmio_rec_flush(struct pmio *p, const void *addr, size_t len);
/* Before the drain instruction runs. */
void pmio_rec_drain(struct pmio *p);

#endif /* PMFS_PMIO_INT_H */
