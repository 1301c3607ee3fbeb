/*
 * transport.c - mount.pmfs's read and writev for /dev/fuse (transport.h):
 * request counting, the INIT request recorded, flags added to the INIT
 * reply, the kernel's "clear setuid/setgid" marks made visible to the
 * handlers of fuse_ll.c, and the choice of FUSE-over-io_uring: the rings
 * are uring.c's, the requests they bring go to libfuse from here.
 *
 * The INIT layouts below are the kernel's FUSE ABI (uapi linux/fuse.h,
 * protocol 7.36 and later for the fields used here); the headers of every
 * request and reply, and io_uring's, are in fuse_abi.h.  Only the fields
 * the transport reads or writes are named.
 *
 * One session per process (as in fuse_ll.c): the state is static.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "fuse_abi.h"
#include "transport.h"
#include "uring.h"

/* ---- the kernel's FUSE ABI (uapi linux/fuse.h) -------------------------- */

/* opcodes: enum pmfs_req_op (transport.h) */

/* fuse_init_in.flags / fuse_init_out.flags */
#define ABI_HANDLE_KILLPRIV_V2 (1u << 28)
#define ABI_INIT_EXT (1u << 30) /* flags2 is valid */
/* the kill-suid/sgid marks (protocol 7.33) */
#define ABI_FATTR_KILL_SUIDGID (1u << 11)    /* fuse_setattr_in.valid */
#define ABI_WRITE_KILL_SUIDGID (1u << 2)     /* fuse_write_in.write_flags */
#define ABI_OPEN_KILL_SUIDGID (1u << 0)      /* fuse_open_in.open_flags */

struct abi_init_in {
	uint32_t major, minor, max_readahead;
	uint32_t flags;
	uint32_t flags2; /* with ABI_INIT_EXT */
	uint32_t unused[11];
};
_Static_assert(offsetof(struct abi_init_in, flags) == 12, "init_in.flags");
_Static_assert(offsetof(struct abi_init_in, flags2) == 16, "init_in.flags2");

struct abi_init_out {
	uint32_t major, minor, max_readahead;
	uint32_t flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2; /* with ABI_INIT_EXT */
	uint32_t max_stack_depth;
	uint32_t unused[6];
};
_Static_assert(sizeof(struct abi_init_out) == 64, "fuse_init_out");
_Static_assert(offsetof(struct abi_init_out, flags) == 12, "init_out.flags");
_Static_assert(offsetof(struct abi_init_out, flags2) == 32,
	       "init_out.flags2");

/* Offsets of the kill marks in the opcode's own header, after the
 * in_header: fuse_setattr_in.valid, fuse_write_in.write_flags,
 * fuse_open_in.open_flags, fuse_create_in.open_flags. */
#define ABI_SETATTR_VALID 0
#define ABI_WRITE_FLAGS 20
#define ABI_OPEN_FLAGS 4
#define ABI_CREATE_OPEN_FLAGS 12
#define ABI_IOCTL_CMD 12 /* fuse_ioctl_in.cmd */

/* ---- state -------------------------------------------------------------- */

static struct {
	struct fuse_session *se;
	bool want_killpriv_v2;
	_Atomic uint64_t init_unique; /* INIT awaiting its reply, or 0 */
	_Atomic uint64_t offered;     /* flags | flags2 << 32 of INIT */
	atomic_bool killpriv_v2;      /* in the INIT reply: rule (2) */
	_Atomic uint64_t counts[PMFS_REQ_OPCODES];
	_Atomic uint64_t by_ring, by_dev; /* rule (3) */
	bool want_uring;
	_Atomic(struct uring *) uring; /* rule (4), or NULL */
} tr;

/* The kill mark of the request this thread is serving: rule (2). */
static __thread bool tr_kill;

/* ---- requests in: count, record INIT, note the kill mark ---------------- */

/* The u32 at off in the opcode's header, or 0 if the request is short. */
static uint32_t arg_u32(const uint8_t *buf, size_t len, size_t off)
{
	uint32_t v = 0;

	if (len >= sizeof(struct abi_in_header) + off + sizeof(v))
		memcpy(&v, buf + sizeof(struct abi_in_header) + off,
		       sizeof(v));
	return v;
}

/* Does this request carry the kernel's "clear setuid/setgid" mark? */
static bool kill_mark(uint32_t opcode, const uint8_t *buf, size_t len)
{
	switch (opcode) {
	case PMFS_REQ_WRITE:
		return arg_u32(buf, len, ABI_WRITE_FLAGS) &
		       ABI_WRITE_KILL_SUIDGID;
	case PMFS_REQ_SETATTR:
		return arg_u32(buf, len, ABI_SETATTR_VALID) &
		       ABI_FATTR_KILL_SUIDGID;
	case PMFS_REQ_OPEN:
		return arg_u32(buf, len, ABI_OPEN_FLAGS) &
		       ABI_OPEN_KILL_SUIDGID;
	case PMFS_REQ_CREATE:
		return arg_u32(buf, len, ABI_CREATE_OPEN_FLAGS) &
		       ABI_OPEN_KILL_SUIDGID;
	default:
		return false;
	}
}

/* Is this the IOCTL that reads the counters?  Those are not counted. */
static bool is_count_ioctl(const struct abi_in_header *h, const uint8_t *buf,
			   size_t len)
{
	return h->opcode == PMFS_REQ_IOCTL &&
	       arg_u32(buf, len, ABI_IOCTL_CMD) == PMFS_IOC_REQ_COUNTS;
}

/* Keep the INIT request's unique and offered flags for the reply. */
static void record_init(const struct abi_in_header *h, const uint8_t *buf,
			size_t len)
{
	uint64_t flags = arg_u32(buf, len, offsetof(struct abi_init_in, flags));

	if (flags & ABI_INIT_EXT)
		flags |= (uint64_t)arg_u32(buf, len,
					   offsetof(struct abi_init_in,
						    flags2))
			 << 32;
	atomic_store(&tr.offered, flags);
	atomic_store(&tr.init_unique, h->unique);
}

/*
 * A request of n bytes about to be served on this thread, taken from
 * /dev/fuse or from a ring (by): count it, note its kill mark, record
 * INIT.  Rules (2), (3).
 */
static void note_request(const uint8_t *buf, size_t n, _Atomic uint64_t *by)
{
	struct abi_in_header h;

	memcpy(&h, buf, sizeof(h));
	if (!is_count_ioctl(&h, buf, n)) {
		atomic_fetch_add_explicit(
			&tr.counts[h.opcode < PMFS_REQ_OPCODES ? h.opcode : 0],
			1, memory_order_relaxed);
		atomic_fetch_add_explicit(by, 1, memory_order_relaxed);
	}
	tr_kill = kill_mark(h.opcode, buf, n);
	if (h.opcode == PMFS_REQ_INIT)
		record_init(&h, buf, n);
}

/* custom_io read: one request from /dev/fuse into libfuse's buffer. */
static ssize_t tr_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	tr_kill = false;
	if (n < (ssize_t)sizeof(struct abi_in_header))
		return n; /* an error (errno kept) or nothing libfuse takes */
	note_request(buf, (size_t)n, &tr.by_dev);
	return n;
}

/* A request from a ring (uring.c): to libfuse as if read: rule (4). */
static void tr_serve(void *arg, void *buf, size_t len)
{
	struct fuse_buf fb = { .mem = buf, .size = len };

	(void)arg;
	note_request(buf, len, &tr.by_ring);
	fuse_session_process_buf(tr.se, &fb);
}

/* ---- io_uring: rule (4) ------------------------------------------------- */

#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"

/* Why the kernel did not offer FUSE_OVER_IO_URING, in one line. */
static void say_not_offered(void)
{
	FILE *f = fopen(ENABLE_URING, "re");
	int c = f ? fgetc(f) : EOF;
	const char *why;

	if (f)
		fclose(f);
	if (c == 'N')
		why = " (" ENABLE_URING " is N)";
	else if (c == EOF)
		why = " (it needs Linux 6.14 or later with "
		      "CONFIG_FUSE_IO_URING; " ENABLE_URING " is missing)";
	else
		why = "";
	fuse_log(FUSE_LOG_WARNING, "mount.pmfs: io_uring: the kernel does not "
		 "offer FUSE-over-io_uring%s; serving requests from "
		 "/dev/fuse\n", why);
}

/*
 * May FUSE_OVER_IO_URING go into this INIT reply (count iovecs, a body of
 * blen bytes)?  Only if the mount asked, the kernel offered, the body has
 * flags2 and the rings are made and accepted; otherwise says why.
 */
static bool uring_offer(int fd, int count, size_t blen)
{
	char why[256];
	struct uring *u;

	if (!tr.want_uring)
		return false;
	if (!(atomic_load(&tr.offered) & ABI_OVER_IO_URING)) {
		say_not_offered();
		return false;
	}
	if (count != 2 || blen < offsetof(struct abi_init_out, flags2) + 4 ||
	    blen > sizeof(struct abi_init_out)) {
		fuse_log(FUSE_LOG_WARNING, "mount.pmfs: io_uring: libfuse's "
			 "INIT reply has no flags2; serving requests from "
			 "/dev/fuse\n");
		return false;
	}
	if (uring_open(fd, &u, why, sizeof(why))) {
		fuse_log(FUSE_LOG_WARNING, "mount.pmfs: io_uring: %s; serving "
			 "requests from /dev/fuse\n", why);
		return false;
	}
	atomic_store(&tr.uring, u);
	return true;
}

/* max_pages without FUSE_MAX_PAGES (the kernel's
 * FUSE_DEFAULT_MAX_PAGES_PER_REQ) */
#define KERNEL_MAX_PAGES 32
/* The page size if sysconf cannot tell (x86's; a larger page only grows the
 * entries) */
#define FALLBACK_PAGE_SIZE 4096

/* The INIT reply with FUSE_OVER_IO_URING went out (n bytes, or failed). */
static void uring_go(const struct abi_init_out *body, ssize_t n)
{
	struct uring *u = atomic_load(&tr.uring);
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = body->max_pages ? body->max_pages : KERNEL_MAX_PAGES;
	size_t payload;
	char why[256];

	if (n < 0) {
		atomic_store(&tr.uring, NULL);
		uring_close(u);
		return;
	}
	/* the kernel's payload minimum: max(8192, max_write, max_pages
	 * pages; 32 without FUSE_MAX_PAGES) */
	payload = pages * (size_t)(page > 0 ? page : FALLBACK_PAGE_SIZE);
	if (body->max_write > payload)
		payload = body->max_write;
	if (uring_start(u, payload, tr_serve, NULL, why, sizeof(why))) {
		fuse_log(FUSE_LOG_WARNING, "mount.pmfs: io_uring: %s; serving "
			 "requests from /dev/fuse\n", why);
		uring_refuse(u);
	}
}

/* ---- writev: add to the INIT reply -------------------------------------- */

/* Flags pmfs adds to INIT: those it wants that the kernel offered. */
static uint64_t init_additions(void)
{
	uint64_t offered = atomic_load(&tr.offered), add = 0;

	if (tr.want_killpriv_v2 && (offered & ABI_HANDLE_KILLPRIV_V2))
		add |= ABI_HANDLE_KILLPRIV_V2;
	return add;
}

/*
 * The INIT reply with the additions: a copy of libfuse's reply body with
 * the flags ORed in (flags2 and INIT_EXT only for bits above 31, and only
 * if the body reaches flags2), sent in place of libfuse's.
 */
static ssize_t write_init_reply(int fd, struct iovec *iov, int count)
{
	struct abi_init_out body;
	struct iovec v[2];
	uint64_t add = init_additions();
	size_t blen = iov[1].iov_len;
	bool ring = uring_offer(fd, count, blen);
	ssize_t n;

	if (add >> 32 && blen < offsetof(struct abi_init_out, flags2) + 4)
		add &= 0xffffffffu; /* libfuse's reply has no flags2 */
	if (ring)
		add |= ABI_OVER_IO_URING; /* uring_offer checked the body */
	if (!add || count != 2 || blen > sizeof(body))
		return writev(fd, iov, count);
	memset(&body, 0, sizeof(body));
	memcpy(&body, iov[1].iov_base, blen);
	body.flags |= (uint32_t)add;
	if (add >> 32) {
		body.flags |= ABI_INIT_EXT;
		body.flags2 |= (uint32_t)(add >> 32);
	}
	v[0] = iov[0];
	v[1].iov_base = &body;
	v[1].iov_len = blen;
	/* set before the kernel can send the first request under V2 */
	atomic_store(&tr.killpriv_v2, body.flags & ABI_HANDLE_KILLPRIV_V2);
	n = writev(fd, v, 2);
	if (n < 0)
		atomic_store(&tr.killpriv_v2, false);
	/* REGISTER only now: before the reply the kernel refuses it */
	if (ring)
		uring_go(&body, n);
	return n;
}

/* custom_io writev: one reply (or notification) to /dev/fuse, or to the
 * ring entry its request came in (rule (4)). */
static ssize_t tr_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	uint64_t init = atomic_load(&tr.init_unique);
	struct abi_out_header out;
	ssize_t n;

	(void)userdata;
	if (uring_reply(atomic_load(&tr.uring), iov, count, &n))
		return n;
	if (!init || count < 2 || iov[0].iov_len != sizeof(out) ||
	    iov[1].iov_len < offsetof(struct abi_init_out, flags) + 4)
		return writev(fd, iov, count);
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != init || out.error != 0)
		return writev(fd, iov, count);
	atomic_store(&tr.init_unique, 0);
	return write_init_reply(fd, iov, count);
}

/* ---- interface ---------------------------------------------------------- */

int transport_install(struct fuse_session *se, const struct transport_opts *o)
{
	static const struct fuse_custom_io io = {
		.read = tr_read,
		.writev = tr_writev,
	};
	int fd = fuse_session_fd(se);
	int r;

	tr.se = se;
	tr.want_killpriv_v2 = o->killpriv_v2;
	tr.want_uring = o->io_uring;
	/* after fuse_session_mount(): the fd is the session's own, so
	 * libfuse's unmount and destroy still close it exactly once */
	r = fd < 0 ? -EBADF : fuse_session_custom_io(se, &io, fd);
	if (r) {
		fprintf(stderr, "mount.pmfs: cannot install the transport: %s\n",
			strerror(r < 0 ? -r : EINVAL));
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

bool transport_killpriv_v2(void)
{
	return atomic_load(&tr.killpriv_v2);
}

bool transport_kill_suidgid(void)
{
	return tr_kill;
}

int transport_inval_attr(uint64_t ino)
{
	/* a negative offset: attributes only, no page cache, no inode lock,
	 * so it may be sent while serving a request for ino */
	return fuse_lowlevel_notify_inval_inode(tr.se, ino, -1, 0);
}

void transport_counts(struct pmfs_req_counts *out)
{
	for (unsigned i = 0; i < PMFS_REQ_OPCODES; i++)
		out->n[i] = atomic_load_explicit(&tr.counts[i],
						 memory_order_relaxed);
	out->ring = atomic_load_explicit(&tr.by_ring, memory_order_relaxed);
	out->dev = atomic_load_explicit(&tr.by_dev, memory_order_relaxed);
}

void transport_stop(void)
{
	uring_stop(atomic_load(&tr.uring));
}

void transport_close(void)
{
	uring_close(atomic_exchange(&tr.uring, NULL));
}
