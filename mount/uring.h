/*
 * uring.h - the FUSE-over-io_uring rings of mount.pmfs, private to mount/:
 * one ring (queue) per possible CPU, each served by a thread of its own.
 * transport.c decides when to use them and hands every request to libfuse
 * (transport.h (4)); this module only moves bytes between the kernel's
 * ring entries and whole requests and replies.  It names no libfuse type.
 */
#ifndef PMFS_URING_H
#define PMFS_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct uring;

/*
 * Serve one request: buf holds it as read(2) on /dev/fuse would return it
 * (fuse_in_header, the opcode's header, the rest), len bytes.  Called on
 * the queue's thread; the reply may come later and from any thread
 * (uring_reply; only the queue's thread submits it: uring.c rule (1)).
 * buf stays valid until that reply.
 */
typedef void (*uring_serve_fn)(void *arg, void *buf, size_t len);

/*
 * Before the INIT reply: make the rings on the /dev/fuse fd and ask the
 * kernel (a REGISTER it must refuse with EAGAIN before INIT is answered)
 * whether it takes ring commands.  0, or -errno with a reason in why.
 */
int uring_open(int fuse_fd, struct uring **out, char *why, size_t n);
/*
 * After the INIT reply went out with FUSE_OVER_IO_URING: entries of
 * `payload` bytes (the kernel's max(8192, max_write, max_pages pages)),
 * one thread per queue that registers them and serves what arrives.
 * Returns once every thread has submitted its REGISTERs or failed.  0, or
 * -errno with a reason in why: the caller then calls uring_refuse, so
 * that the kernel does not wait for the queues that failed.
 */
int uring_start(struct uring *u, size_t payload, uring_serve_fn serve,
		void *arg, char *why, size_t n);
/*
 * Make the kernel turn FUSE-over-io_uring off for the connection (a
 * REGISTER it refuses), so that it sends requests on /dev/fuse again:
 * after an INIT reply with the flag, when uring_start failed.
 */
void uring_refuse(struct uring *u);
/*
 * The reply iov[count] (fuse_out_header first) to a request that came
 * through a ring: copied into its entry and sent with COMMIT_AND_FETCH.
 * true if it was such a reply (*n: bytes, or -1 with errno set); false if
 * it belongs on /dev/fuse (a classic request, a notification).
 */
bool uring_reply(struct uring *u, const struct iovec *iov, int count,
		 ssize_t *n);
/*
 * Serve no more: returns once no queue thread serves a request; one that
 * still comes is answered ENOTCONN, and replies sent later (deferred
 * ones) still go out, until uring_close (uring.c rule (4)).  u may be
 * NULL.
 */
void uring_stop(struct uring *u);
/* Stop the threads, close the rings, free everything; u may be NULL. */
void uring_close(struct uring *u);

#endif /* PMFS_URING_H */
