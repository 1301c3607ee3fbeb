/*
 * pmemio.h - the persistence layer: mapping a namespace and every flush,
 * fence and persistent store in pmfs.
 *
 * Owns: opening a devdax character device, a file on an fsdax (-o dax)
 * filesystem, or a plain file, through libpmem2 (identified first with
 * libndctl/libdaxctl when it is a device); the store granularity libpmem2
 * can promise; the per-architecture flush and drain instructions, chosen at
 * run time; the bad-block list; the device lock; per-thread and total
 * counters of flushes, fences and bytes written; and the recording backend
 * the crash tests use.  Nothing outside this module issues a flush or fence.
 *
 * Locks: none held across calls.  The device lock (flock on the namespace)
 * is taken at open when PMIO_O_EXCL is given and held until pmio_close().
 *
 * Crash invariants this module provides to its callers:
 *  (1) bytes passed to pmio_flush() (or written by a *_nodrain copy/set)
 *      are durable once a later pmio_drain() on the same thread returns;
 *  (2) pmio_store64() is a single aligned 8-byte store: after a crash the
 *      word holds either its old or its new value, never a mix;
 *  (3) nothing is durable in any particular order unless a pmio_drain()
 *      separates it: a cache may write any dirty line back at any time.
 *
 * Usage of a persistent update (DESIGN.md):
 *   write payload; pmio_flush(payload);
 *   pmio_drain();             -- ORDER: payload durable before commit
 *   pmio_commit64(&word, v);  -- the real commit (store + flush)
 *   pmio_drain();             -- ORDER: commit durable before reply
 */
#ifndef PMFS_PMEMIO_H
#define PMFS_PMEMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pmio;

/* pmio_opts.flags */
#define PMIO_O_RDONLY 0x01   /* map read-only; every store is a bug */
#define PMIO_O_EXCL 0x02     /* take the device lock (EBUSY if held) */
#define PMIO_O_RECORD 0x04   /* recording backend (tests only) */
#define PMIO_O_FORCE_CL 0x08 /* force cache-line granularity: tests and
			      * benchmarks on tmpfs only, unsafe on real
			      * storage; also env PMFS_FORCE_CACHE_LINE=1 */
#define PMIO_O_QUIET 0x10    /* do not warn about non-DAX storage */
#define PMIO_O_UPGRADE 0x20  /* with RDONLY: open the device read-write
			      * when permitted (the mapping stays
			      * read-only), so pmio_set_writable can
			      * make it writable later (remount) */

struct pmio_opts {
	unsigned flags;
	uint64_t min_size; /* refuse smaller namespaces (EINVAL + message) */
};

enum pmio_gran {
	PMIO_GRAN_BYTE = 1,       /* eADR: caches are persistent */
	PMIO_GRAN_CACHE_LINE = 2, /* DAX: flush lines, then drain */
	PMIO_GRAN_PAGE = 3,       /* plain file: msync needed */
};

enum pmio_kind {
	PMIO_KIND_FILE = 1,   /* regular file (plain or on fsdax) */
	PMIO_KIND_DEVDAX = 2, /* devdax character device */
};

struct pmio_badblock {
	uint64_t off; /* byte offset in the namespace */
	uint64_t len; /* bytes */
};

struct pmio_stats {
	uint64_t flushes; /* cache lines flushed (or msync calls) */
	uint64_t fences;  /* drains */
	uint64_t bytes;   /* bytes written through pmemio helpers */
};

/*
 * Open and map `path`.  Returns 0 or -errno; on failure *out is NULL and
 * `err` (if not NULL) receives a one-line message for the user that says
 * what is wrong and what to use instead.  The test-only switch
 * (PMIO_O_FORCE_CL or PMFS_FORCE_CACHE_LINE=1) sets libpmem2's
 * PMEM2_FORCE_GRANULARITY around the map call only.  A failing msync in
 * page mode aborts, as in libpmem2: the primitives cannot report it.
 */
int pmio_open(const char *path, const struct pmio_opts *opts,
	      struct pmio **out, char *err, size_t errlen);
/* Unmap and release the lock.  Durable state is unchanged. */
void pmio_close(struct pmio *p);

void *pmio_base(const struct pmio *p);
/*
 * Make the mapping writable, or read-only again (remount).  Writable needs
 * a device opened read-write: one not opened with PMIO_O_RDONLY, or one
 * opened with PMIO_O_UPGRADE that allowed read-write access.  0, -EROFS
 * (the device is open read-only: write-protected, or no write permission)
 * or -errno of mprotect.  Under PMIO_O_RECORD the recording owns the page
 * protections: only the flag changes.
 */
int pmio_set_writable(struct pmio *p, bool writable);
/*
 * Fault in [off, off+len) of a writable mapping ahead of its first stores
 * (MADV_POPULATE_WRITE): on a file the pages are allocated and mapped,
 * on devdax mapped; nothing is stored and nothing needs flushing.  A
 * no-op for a read-only mapping and the recording backend.  0 or -errno
 * (EINVAL: a kernel before 5.14; EFAULT/EHWPOISON: a poisoned page).
 */
int pmio_prefault(struct pmio *p, uint64_t off, uint64_t len);
uint64_t pmio_size(const struct pmio *p);
enum pmio_gran pmio_gran(const struct pmio *p);
enum pmio_kind pmio_kind(const struct pmio *p);
bool pmio_is_dax(const struct pmio *p); /* false: page granularity */
/* e.g. "clwb+sfence", "none+sfence (eADR)", "msync+sfence" */
const char *pmio_flush_path(const struct pmio *p);
const char *pmio_gran_name(enum pmio_gran g);
/* Name of the flush/fence pair this CPU uses, independent of a mapping. */
const char *pmio_arch_name(void);

/* The NVDIMM namespace behind a mapping, as libndctl/libdaxctl name it. */
struct pmio_nsinfo {
	char ns[32];    /* e.g. "namespace0.0" */
	char mode[16];  /* "devdax", "fsdax", "sector", "raw" or "unknown" */
	char dev[32];   /* its device: "dax0.0", "pmem0" */
	uint64_t size;  /* usable bytes of the namespace */
	uint64_t align; /* mapping alignment (0 when it has none) */
	bool eadr;      /* its region's persistence domain is the CPU cache */
};

/*
 * The namespace the mapping is on: the devdax namespace itself, or the one
 * whose block device holds the file.  0 and *ns filled, or -ENOENT for a
 * file on anything else (tmpfs, a disk).  Read at open; nothing is asked
 * again.
 */
int pmio_namespace(const struct pmio *p, struct pmio_nsinfo *ns);

/* Bad blocks of the namespace, sorted by offset; owned by p. */
size_t pmio_badblocks(const struct pmio *p, const struct pmio_badblock **bb);

/* ---- persistence primitives ------------------------------------------- */

/* Write back the cache lines covering [addr, addr+len); does not wait. */
void pmio_flush(struct pmio *p, const void *addr, size_t len);
/* The one ordering point: wait until every earlier flush is durable. */
void pmio_drain(struct pmio *p);
/* pmio_flush + pmio_drain. */
void pmio_persist(struct pmio *p, const void *addr, size_t len);

/* Copy/set into the mapping and flush; no drain.  Copies of 256 bytes or
 * more use non-temporal stores where the architecture has them (they count
 * no flushes but still need the drain). */
void pmio_memcpy_nodrain(struct pmio *p, void *dst, const void *src,
			 size_t len);
void pmio_memset_nodrain(struct pmio *p, void *dst, int c, size_t len);
/* Copy/set into the mapping without flushing (caller flushes later). */
void pmio_memcpy_noflush(struct pmio *p, void *dst, const void *src,
			 size_t len);
void pmio_memset_noflush(struct pmio *p, void *dst, int c, size_t len);

/* Atomic aligned 8-byte store; no flush, no drain. */
void pmio_store64(struct pmio *p, uint64_t *dst, uint64_t v);
/* A commit store: pmio_store64 + flush of its line; no drain. */
void pmio_commit64(struct pmio *p, uint64_t *dst, uint64_t v);

/* ---- counters --------------------------------------------------------- */

/* This thread's counters since it started (all mappings). */
struct pmio_stats pmio_stats_thread(void);
/* All threads, all mappings, since the process started. */
struct pmio_stats pmio_stats_total(void);

/* ---- recording backend (PMIO_O_RECORD) --------------------------------- */

/*
 * The recording backend sees every store to the mapping (by comparing the
 * mapping with a shadow copy at each flush and drain, so plain C stores are
 * seen too), every flush and every drain.  It stores per fence interval the
 * 8-byte words that changed and whether each was flushed before the fence.
 *
 * Crash model: words become durable at the first drain after the flush
 * that followed their last store.  A crash after fence k leaves the durable
 * state of fence k plus any subset of the words "in flight": every word
 * whose latest value (just before fence k+1, or the end of the recording)
 * differs from its durable value.  8-byte words are atomic; larger stores
 * tear at word boundaries.  Fence 0 is the state at open.  The drain of
 * any thread counts (the recording has one fence sequence), so with
 * several threads the model is more lenient than the hardware, where a
 * drain waits only for its own thread's flushes: it can miss a protocol
 * that leans on another thread's fence, never report a false failure.
 */
struct pmio_rec_word {
	uint64_t off; /* byte offset, 8-aligned */
	uint64_t val; /* latest value before the next fence */
};

/* Number of fences recorded so far (0 = none since open). */
uint64_t pmio_rec_fences(const struct pmio *p);
/*
 * Words found stored but never flushed when a drain ran (each is a likely
 * missing flush); the first such offset in *first_off if not NULL.
 */
uint64_t pmio_rec_unflushed(const struct pmio *p, uint64_t *first_off);

struct pmio_rec_cursor;

/*
 * Walk crash points of a recording, from fence 0 to the end.  The cursor
 * starts before crash point 0: loop with while (pmio_rec_cursor_next(c)).
 * It copies the recording, so it stays valid after pmio_close(); the last
 * point uses the mapping as of pmio_rec_cursor_new().  With page tracking
 * (the default) the mapping is write-protected between drains, so the
 * kernel cannot write into it (read(2) into it fails with EFAULT): set
 * PMFS_REC_FULLSCAN=1 for such code.
 */
int pmio_rec_cursor_new(struct pmio *p, struct pmio_rec_cursor **out);
void pmio_rec_cursor_free(struct pmio_rec_cursor *c);
/* Move to the next crash point; false after the last one. */
bool pmio_rec_cursor_next(struct pmio_rec_cursor *c);
/* Index of the current crash point (the fence after which it crashes). */
uint64_t pmio_rec_cursor_fence(const struct pmio_rec_cursor *c);
/* Durable image at the current crash point (pmio_size bytes). */
const void *pmio_rec_cursor_durable(const struct pmio_rec_cursor *c);
/* The words in flight at the current crash point. */
size_t pmio_rec_cursor_inflight(const struct pmio_rec_cursor *c,
				const struct pmio_rec_word **words);
/*
 * Build into `out` (pmio_size bytes) the durable image plus the in-flight
 * words whose index i has keep[i] != 0.
 */
void pmio_rec_cursor_image(const struct pmio_rec_cursor *c,
			   const uint8_t *keep, void *out);

#endif /* PMFS_PMEMIO_H */
