/*
 * transport.h - how mount.pmfs talks to /dev/fuse: the read and writev
 * that libfuse's session uses, installed with fuse_session_custom_io().
 *
 * Owns: the raw bytes of every request and reply.  libfuse still decodes
 * requests and encodes replies; the transport only looks at what libfuse
 * 3.14 does not pass on, and adds to the INIT reply what libfuse 3.14
 * cannot ask for:
 *  (1) The INIT request is recorded (the flags the kernel offers).  Flags
 *      are added to libfuse's INIT reply only when the kernel offered them
 *      and the mount asked for them; otherwise the reply is libfuse's own,
 *      byte for byte.  Added today: FUSE_HANDLE_KILLPRIV_V2.
 *  (2) Under HANDLE_KILLPRIV_V2 the kernel no longer clears setuid/setgid
 *      itself (nor asks for security.capability before each write); it
 *      marks the requests after which the server must clear them: WRITE
 *      (write_flags), SETATTR (valid), OPEN and CREATE (open_flags).
 *      transport_kill_suidgid() tells a handler whether the request it is
 *      serving carries that mark.  libfuse reads and serves a request on
 *      one thread, so the mark is kept per thread.
 *  (3) Every request is counted by opcode when it is read, before libfuse
 *      decodes it, and by where it came from (a ring entry or a read of
 *      /dev/fuse); PMFS_IOC_REQ_COUNTS on any file or directory of the
 *      mount returns the counts; the IOCTLs that read them are not
 *      counted.
 *  (4) FUSE-over-io_uring (-o io_uring, uring.c): FUSE_OVER_IO_URING goes
 *      into the INIT reply only when the mount asked for it, the kernel
 *      offered it, and the rings exist and the kernel takes ring commands
 *      on this /dev/fuse (a REGISTER sent before the reply must come back
 *      EAGAIN); otherwise a one-line message says why and every request
 *      comes from /dev/fuse as before.  The entries are registered only
 *      after the INIT reply was written (the kernel refuses them before).
 *      From then on the kernel sends most requests to the ring of the
 *      caller's CPU, one ring and one thread per possible CPU, and INIT,
 *      FORGET, INTERRUPT and notifications still go through /dev/fuse, so
 *      libfuse's loop keeps reading it.  A request from a ring is rebuilt
 *      as the bytes read(2) would return and handed to libfuse's decoder
 *      (fuse_session_process_buf(), what libfuse's loop does with a read
 *      buffer; the custom read cannot serve it, as libfuse's workers wait
 *      in read(2) on /dev/fuse, which no ring request wakes); libfuse
 *      encodes the reply and calls the custom writev, which sends it with
 *      COMMIT_AND_FETCH for the entry the request came in (found by its
 *      unique, so a reply sent later from another thread finds it too)
 *      instead of writing it to /dev/fuse.  Requests served from a ring
 *      are counted as such (rule (3)).  If the rings cannot be started
 *      after the reply, a REGISTER the kernel refuses turns io_uring off
 *      for the connection and the kernel falls back to /dev/fuse.
 *
 * Installed after fuse_session_mount(), on the session's own fd (libfuse
 * documents custom_io as an alternative to fuse_session_mount(); used
 * after it, libfuse mounts and unmounts as usual and closes the fd once).
 * tests/mount/test_transport.c pins that choice.
 *
 * This header names no libfuse type beyond the opaque session; the
 * request counters part (PMFS_IOC_REQ_COUNTS, pmfs_req_name) is also what
 * tests and bench programs use to count round trips.
 */
#ifndef PMFS_TRANSPORT_H
#define PMFS_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* Opcodes counted one by one; larger ones (CUSE_INIT) count in slot 0. */
#define PMFS_REQ_OPCODES 64

struct pmfs_req_counts {
	uint64_t n[PMFS_REQ_OPCODES]; /* requests read, by FUSE opcode */
	uint64_t ring; /* of them, served from an io_uring entry: rule (4) */
	uint64_t dev;  /* of them, read from /dev/fuse */
};

/* ioctl(fd of anything on a pmfs mount, PMFS_IOC_REQ_COUNTS, &counts) */
#define PMFS_IOC_REQ_COUNTS _IOR('P', 0x71, struct pmfs_req_counts)

/* FUSE opcodes named in tests and reports (uapi linux/fuse.h values). */
enum pmfs_req_op {
	PMFS_REQ_LOOKUP = 1,
	PMFS_REQ_FORGET = 2,
	PMFS_REQ_GETATTR = 3,
	PMFS_REQ_SETATTR = 4,
	PMFS_REQ_MKNOD = 8,
	PMFS_REQ_OPEN = 14,
	PMFS_REQ_WRITE = 16,
	PMFS_REQ_RELEASE = 18,
	PMFS_REQ_GETXATTR = 22,
	PMFS_REQ_FLUSH = 25,
	PMFS_REQ_INIT = 26,
	PMFS_REQ_CREATE = 35,
	PMFS_REQ_INTERRUPT = 36,
	PMFS_REQ_IOCTL = 39,
	PMFS_REQ_BATCH_FORGET = 42,
};

/* The name of a FUSE opcode as in libfuse's -d log, or NULL. */
static inline const char *pmfs_req_name(unsigned op)
{
	static const char *const names[PMFS_REQ_OPCODES] = {
		[1] = "LOOKUP",	      [2] = "FORGET",	     [3] = "GETATTR",
		[4] = "SETATTR",      [5] = "READLINK",	     [6] = "SYMLINK",
		[8] = "MKNOD",	      [9] = "MKDIR",	     [10] = "UNLINK",
		[11] = "RMDIR",	      [12] = "RENAME",	     [13] = "LINK",
		[14] = "OPEN",	      [15] = "READ",	     [16] = "WRITE",
		[17] = "STATFS",      [18] = "RELEASE",	     [20] = "FSYNC",
		[21] = "SETXATTR",    [22] = "GETXATTR",     [23] = "LISTXATTR",
		[24] = "REMOVEXATTR", [25] = "FLUSH",	     [26] = "INIT",
		[27] = "OPENDIR",     [28] = "READDIR",	     [29] = "RELEASEDIR",
		[30] = "FSYNCDIR",    [31] = "GETLK",	     [32] = "SETLK",
		[33] = "SETLKW",      [34] = "ACCESS",	     [35] = "CREATE",
		[36] = "INTERRUPT",   [37] = "BMAP",	     [38] = "DESTROY",
		[39] = "IOCTL",	      [40] = "POLL",	     [41] = "NOTIFY_REPLY",
		[42] = "BATCH_FORGET", [43] = "FALLOCATE",   [44] = "READDIRPLUS",
		[45] = "RENAME2",     [46] = "LSEEK",	     [47] = "COPY_FILE_RANGE",
		[48] = "SETUPMAPPING", [49] = "REMOVEMAPPING", [50] = "SYNCFS",
		[51] = "TMPFILE",     [52] = "STATX",
	};

	return op < PMFS_REQ_OPCODES ? names[op] : NULL;
}

struct fuse_session;

/* What the transport adds to INIT when the kernel offers it. */
struct transport_opts {
	bool killpriv_v2; /* FUSE_HANDLE_KILLPRIV_V2: rule (2) */
	bool io_uring;    /* FUSE_OVER_IO_URING: rule (4) */
};

/*
 * Install the transport on se, which fuse_session_mount() has mounted.
 * 0, or -errno after a one-line message on stderr (the session is then
 * left as libfuse made it; the caller unmounts).
 */
int transport_install(struct fuse_session *se, const struct transport_opts *o);
/* HANDLE_KILLPRIV_V2 went out in the INIT reply: rule (2) applies. */
bool transport_killpriv_v2(void);
/* The request this thread serves asks the server to clear setuid/setgid. */
bool transport_kill_suidgid(void);
/*
 * Make the kernel drop its cached attributes of ino: after pmfs cleared
 * setuid/setgid in a WRITE's commit (rule (2)), whose reply carries no
 * attributes.  0 or -errno.
 */
int transport_inval_attr(uint64_t ino);
/* Requests read so far, by opcode: rule (3). */
void transport_counts(struct pmfs_req_counts *out);
/*
 * After libfuse's loop ended: the io_uring threads serve no more
 * requests (rule (4)); a later request is answered ENOTCONN, and
 * deferred replies still go out through the rings.
 */
void transport_stop(void);
/*
 * After the last deferred reply (and before the session is destroyed):
 * end the io_uring threads and close the rings.  A reply sent after this
 * is dropped, it never goes to /dev/fuse.
 */
void transport_close(void);

#endif /* PMFS_TRANSPORT_H */
