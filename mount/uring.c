/*
 * uring.c - FUSE-over-io_uring for mount.pmfs (uring.h, transport.h (4)):
 * one io_uring per possible CPU (the kernel's queue id is the CPU a
 * request's caller runs on, so every queue must be served), each with
 * URING_DEPTH entries and one thread that registers them, waits for their
 * completions and hands each request to transport.c as a whole buffer.
 *
 * An entry is a header buffer (struct abi_uring_req_header, fuse_abi.h)
 * and one allocation of URING_HDR_ROOM + payload bytes whose tail is the
 * payload buffer the kernel fills.  A request is rebuilt in place: its
 * fuse_in_header and opcode header are copied into the room just before
 * the payload, so the bytes libfuse decodes are those read(2) on /dev/fuse
 * would give, and the payload (a WRITE's data) is not copied.  The reply is
 * copied into the same entry and sent with COMMIT_AND_FETCH, which also
 * hands the entry back for the next request.
 *
 * Threads: the queue thread alone reaps its ring's completions; its
 * submission queue is shared with whichever thread sends a reply (a reply
 * may be sent after the handler returned: fuse_ll.c rule (8)) and is
 * guarded by sq_mu.  The queue threads block every signal, so that
 * SIGTERM/SIGINT reach libfuse's loop as before.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <fuse_log.h>

#include "fuse_abi.h"
#include "uring.h"

/*
 * Entries per queue.  A queue's thread serves one request at a time; the
 * other entries hold requests the kernel hands over meanwhile, and the
 * requests whose reply was deferred (fuse_ll.c rule (8)).
 */
#define URING_DEPTH 4
#define URING_SQ_SIZE 16    /* > URING_DEPTH commands + the stop poll */
#define URING_HDR_ROOM 4096 /* before the payload: the two headers */
#define TAG_STOP UINT64_MAX
#define TAG_PROBE (UINT64_MAX - 1)

_Static_assert(URING_HDR_ROOM >=
		       sizeof(struct abi_in_header) + ABI_URING_OP_IN_SZ,
	       "room for the request's headers before the payload");

struct uring_queue;

struct uring_ent {
	struct uring_queue *q;
	struct abi_uring_req_header *hdr; /* iov[0] */
	uint8_t *mem;			  /* URING_HDR_ROOM + payload */
	struct iovec iov[2];
	_Atomic uint64_t unique; /* the request being served, or 0 */
	bool fetched;		 /* a request came: REGISTER was taken */
};

struct uring_queue {
	struct uring *u;
	unsigned qid;
	struct io_uring ring;
	bool ring_ok;
	pthread_mutex_t sq_mu; /* the submission queue */
	pthread_t th;
	bool th_ok;
	struct uring_ent ents[URING_DEPTH];
};

struct uring {
	int fd;	     /* /dev/fuse */
	int stop_fd; /* eventfd: readable when the threads must end */
	unsigned nq;
	size_t payload;
	uring_serve_fn serve;
	void *arg;
	atomic_bool said_register, said_commit; /* one message each */
	struct uring_queue *q;
};

/* ---- rings -------------------------------------------------------------- */

/* Possible CPUs (the kernel's queue count): /sys/.../cpu/possible. */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char line[256], *p = line, *end;
	unsigned n = 0;

	if (f && fgets(line, sizeof(line), f)) {
		while (*p >= '0' && *p <= '9') {
			unsigned long hi = strtoul(p, &end, 10);

			if (*end == '-')
				hi = strtoul(end + 1, &end, 10);
			if (hi + 1 > n && hi < 4096)
				n = (unsigned)hi + 1;
			p = *end == ',' ? end + 1 : end;
		}
	}
	if (f)
		fclose(f);
	if (!n) {
		int c = get_nprocs_conf();

		n = c > 0 ? (unsigned)c : 1;
	}
	return n;
}

/*
 * Submit one ring command on q: REGISTER (of e, or of nothing: a probe or
 * a refusal) or COMMIT_AND_FETCH of the reply to commit_id.  0 or -errno.
 */
static int submit_cmd(struct uring_queue *q, unsigned op,
		      const struct uring_ent *e, uint64_t commit_id,
		      uint64_t tag)
{
	struct abi_uring_cmd_req *c;
	struct io_uring_sqe *sqe;
	int r;

	pthread_mutex_lock(&q->sq_mu);
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) {
		r = -EBUSY; /* cannot happen: every command goes out at once */
		goto out;
	}
	memset(sqe, 0, 2 * sizeof(*sqe)); /* IORING_SETUP_SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = q->u->fd;
	sqe->cmd_op = op;
	if (e && op == ABI_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	}
	sqe->user_data = tag;
	c = (struct abi_uring_cmd_req *)sqe->cmd;
	c->commit_id = commit_id;
	c->qid = (uint16_t)q->qid;
	do
		r = io_uring_submit(&q->ring);
	while (r == -EINTR);
	r = r < 0 ? r : 0;
out:
	pthread_mutex_unlock(&q->sq_mu);
	return r;
}

/* The first completion of `tag` on a ring no thread serves yet. */
static int wait_tag(struct uring_queue *q, uint64_t tag)
{
	struct io_uring_cqe *cqe;
	int r;

	for (;;) {
		r = io_uring_wait_cqe(&q->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		if (cqe->user_data == tag) {
			r = cqe->res;
			io_uring_cqe_seen(&q->ring, cqe);
			return r;
		}
		io_uring_cqe_seen(&q->ring, cqe);
	}
}

int uring_open(int fuse_fd, struct uring **out, char *why, size_t n)
{
	struct uring *u = calloc(1, sizeof(*u));
	int r;

	*out = NULL;
	if (!u) {
		snprintf(why, n, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	u->fd = fuse_fd;
	u->nq = possible_cpus();
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	r = u->stop_fd < 0 ? -errno : 0;
	u->q = r ? NULL : calloc(u->nq, sizeof(*u->q));
	if (!r && !u->q)
		r = -ENOMEM;
	if (r) {
		snprintf(why, n, "%s", strerror(-r));
		goto fail;
	}
	for (unsigned i = 0; i < u->nq; i++) {
		u->q[i].u = u;
		u->q[i].qid = i;
		pthread_mutex_init(&u->q[i].sq_mu, NULL);
	}
	for (unsigned i = 0; i < u->nq; i++) {
		struct uring_queue *q = &u->q[i];

		r = io_uring_queue_init(URING_SQ_SIZE, &q->ring,
					IORING_SETUP_SQE128);
		if (r) {
			snprintf(why, n,
				 "io_uring_setup (128-byte entries): %s",
				 strerror(-r));
			goto fail;
		}
		q->ring_ok = true;
	}
	/* before INIT is answered, a kernel that takes ring commands on
	 * /dev/fuse refuses REGISTER with EAGAIN (and nothing is made) */
	r = submit_cmd(&u->q[0], ABI_URING_CMD_REGISTER, NULL, 0, TAG_PROBE);
	if (!r)
		r = wait_tag(&u->q[0], TAG_PROBE);
	if (r != -EAGAIN) {
		snprintf(why, n, "the kernel refused a ring command on "
			 "/dev/fuse: %s", strerror(r < 0 ? -r : EPROTO));
		r = r < 0 ? r : -EPROTO;
		goto fail;
	}
	*out = u;
	return 0;

fail:
	uring_close(u);
	return r;
}

/* ---- serving ------------------------------------------------------------ */

/* Send the reply now in e (header, then payload_sz bytes) to the kernel. */
static int commit(struct uring_ent *e, uint64_t unique)
{
	struct uring_queue *q = e->q;

	return submit_cmd(q, ABI_URING_CMD_COMMIT_AND_FETCH, e, unique,
			  (uint64_t)(e - q->ents));
}

/* Answer the request in e with an error and no payload. */
static int commit_err(struct uring_ent *e, uint64_t unique, int err)
{
	struct abi_out_header out = {
		.len = sizeof(out), .error = err, .unique = unique,
	};

	memcpy(e->hdr->in_out, &out, sizeof(out));
	memset(&e->hdr->ring_ent_in_out, 0, sizeof(e->hdr->ring_ent_in_out));
	return commit(e, unique);
}

/* A request arrived in e: rebuild it in place and hand it on. */
static void serve_ent(struct uring_ent *e)
{
	struct uring *u = e->q->u;
	uint32_t psz = e->hdr->ring_ent_in_out.payload_sz;
	struct abi_in_header h;
	size_t opsz;
	uint8_t *buf;

	memcpy(&h, e->hdr->in_out, sizeof(h));
	/* the length covers the in header, the opcode header (in op_in) and
	 * the payload: whatever is not payload went to op_in */
	if (psz > u->payload || h.len < sizeof(h) + psz ||
	    h.len - sizeof(h) - psz > ABI_URING_OP_IN_SZ) {
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue %u: "
			 "malformed request (opcode %u, %u bytes)\n",
			 e->q->qid, h.opcode, h.len);
		commit_err(e, h.unique, -EIO);
		return;
	}
	opsz = h.len - sizeof(h) - psz;
	buf = e->mem + URING_HDR_ROOM - opsz - sizeof(h);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), e->hdr->op_in, opsz);
	atomic_store(&e->unique, h.unique); /* before any reply can come */
	u->serve(u->arg, buf, h.len);
}

/* A command of e's failed with res: say so once, drop the entry. */
static void ent_failed(struct uring_ent *e, int res)
{
	struct uring *u = e->q->u;

	if (res == -ENOTCONN || res == -ECANCELED)
		return; /* unmounted: the kernel hands every entry back */
	if (!e->fetched) {
		/* the kernel then turns io_uring off for the connection and
		 * sends requests on /dev/fuse (fs/fuse/dev_uring.c) */
		if (!atomic_exchange(&u->said_register, true))
			fuse_log(FUSE_LOG_WARNING,
				 "mount.pmfs: io_uring: the kernel refused "
				 "REGISTER on queue %u: %s; serving requests "
				 "from /dev/fuse\n",
				 e->q->qid, strerror(-res));
	} else if (!atomic_exchange(&u->said_commit, true)) {
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue %u: "
			 "COMMIT_AND_FETCH failed: %s; the entry is lost\n",
			 e->q->qid, strerror(-res));
	}
}

/* A queue's thread: register its entries, serve what they bring. */
static void *queue_main(void *arg)
{
	struct uring_queue *q = arg;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	cpu_set_t cpus;
	int r;

	/* the kernel picks the queue by the caller's CPU: stay near it
	 * (a CPU that is offline refuses, and the thread runs anywhere) */
	CPU_ZERO(&cpus);
	CPU_SET(q->qid, &cpus);
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);

	/* readable stop_fd ends the loop (uring_close) */
	pthread_mutex_lock(&q->sq_mu);
	sqe = io_uring_get_sqe(&q->ring);
	io_uring_prep_poll_add(sqe, q->u->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAG_STOP);
	r = io_uring_submit(&q->ring);
	pthread_mutex_unlock(&q->sq_mu);
	if (r < 0) {
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue %u: %s\n",
			 q->qid, strerror(-r));
		return NULL;
	}
	for (unsigned i = 0; i < URING_DEPTH; i++) {
		r = submit_cmd(q, ABI_URING_CMD_REGISTER, &q->ents[i], 0, i);
		if (r)
			ent_failed(&q->ents[i], r);
	}
	for (;;) {
		uint64_t tag;
		int res;

		r = io_uring_wait_cqe(&q->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue "
				 "%u: %s\n", q->qid, strerror(-r));
			break;
		}
		tag = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(&q->ring, cqe);
		if (tag == TAG_STOP)
			break;
		if (tag >= URING_DEPTH)
			continue; /* a refusal's answer (uring_refuse) */
		if (res < 0) {
			ent_failed(&q->ents[tag], res);
			continue;
		}
		q->ents[tag].fetched = true;
		serve_ent(&q->ents[tag]);
	}
	return NULL;
}

/* Buffers of every entry; 0 or -ENOMEM. */
static int alloc_ents(struct uring *u)
{
	for (unsigned i = 0; i < u->nq; i++) {
		for (unsigned j = 0; j < URING_DEPTH; j++) {
			struct uring_ent *e = &u->q[i].ents[j];
			void *h, *m;

			e->q = &u->q[i];
			if (posix_memalign(&h, 64, sizeof(*e->hdr)))
				return -ENOMEM;
			e->hdr = h;
			if (posix_memalign(&m, 4096,
					   URING_HDR_ROOM + u->payload))
				return -ENOMEM;
			e->mem = m;
			memset(e->hdr, 0, sizeof(*e->hdr));
			e->iov[0].iov_base = e->hdr;
			e->iov[0].iov_len = sizeof(*e->hdr);
			e->iov[1].iov_base = e->mem + URING_HDR_ROOM;
			e->iov[1].iov_len = u->payload;
		}
	}
	return 0;
}

int uring_start(struct uring *u, size_t payload, uring_serve_fn serve,
		void *arg, char *why, size_t n)
{
	sigset_t all, old;
	int r;

	u->payload = payload < ABI_URING_MIN_PAYLOAD ? ABI_URING_MIN_PAYLOAD
						     : payload;
	u->serve = serve;
	u->arg = arg;
	r = alloc_ents(u);
	if (r) {
		snprintf(why, n, "ring buffers: %s", strerror(-r));
		return r;
	}
	/* the threads inherit the mask: signals go to libfuse's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < u->nq && !r; i++) {
		r = -pthread_create(&u->q[i].th, NULL, queue_main, &u->q[i]);
		u->q[i].th_ok = r == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		snprintf(why, n, "cannot start a queue thread: %s",
			 strerror(-r));
	return r;
}

void uring_refuse(struct uring *u)
{
	/* REGISTER without buffers: EINVAL, and the kernel turns io_uring
	 * off for the connection before any queue is complete */
	submit_cmd(&u->q[0], ABI_URING_CMD_REGISTER, NULL, 0, TAG_PROBE);
}

/* ---- replies ------------------------------------------------------------ */

/* The entry serving unique, taken out of service; NULL if none. */
static struct uring_ent *claim(struct uring *u, uint64_t unique)
{
	for (unsigned i = 0; i < u->nq; i++) {
		for (unsigned j = 0; j < URING_DEPTH; j++) {
			struct uring_ent *e = &u->q[i].ents[j];
			uint64_t v = atomic_load_explicit(&e->unique,
							  memory_order_acquire);

			if (v == unique &&
			    atomic_compare_exchange_strong(&e->unique, &v, 0))
				return e;
		}
	}
	return NULL;
}

bool uring_reply(struct uring *u, const struct iovec *iov, int count,
		 ssize_t *n)
{
	struct abi_out_header out;
	struct uring_ent *e;
	size_t total = 0, off = 0;
	int r;

	if (!u || !u->serve || count < 1 || iov[0].iov_len != sizeof(out))
		return false;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (!out.unique || !(e = claim(u, out.unique)))
		return false;
	for (int i = 1; i < count; i++)
		total += iov[i].iov_len;
	if (out.error || total > u->payload) {
		r = commit_err(e, out.unique, out.error ? out.error : -EIO);
		if (!r && !out.error)
			r = -EIO; /* the caller hears why */
		goto out;
	}
	/* the request's bytes are no longer needed: the reply replaces
	 * them (memmove: a reply may quote the request) */
	for (int i = 1; i < count; i++) {
		memmove(e->mem + URING_HDR_ROOM + off, iov[i].iov_base,
			iov[i].iov_len);
		off += iov[i].iov_len;
	}
	out.len = (uint32_t)(sizeof(out) + total);
	memcpy(e->hdr->in_out, &out, sizeof(out));
	memset(&e->hdr->ring_ent_in_out, 0, sizeof(e->hdr->ring_ent_in_out));
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)total;
	r = commit(e, out.unique);
out:
	if (r) {
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue %u: cannot "
			 "send a reply: %s\n", e->q->qid, strerror(-r));
		errno = -r;
		*n = -1;
	} else {
		*n = (ssize_t)(sizeof(out) + total);
	}
	return true;
}

/* ---- the end ------------------------------------------------------------ */

void uring_close(struct uring *u)
{
	uint64_t one = 1;

	if (!u)
		return;
	if (u->stop_fd >= 0 && write(u->stop_fd, &one, sizeof(one)) < 0)
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: cannot stop "
			 "the queues: %s\n", strerror(errno));
	for (unsigned i = 0; u->q && i < u->nq; i++)
		if (u->q[i].th_ok)
			pthread_join(u->q[i].th, NULL);
	for (unsigned i = 0; u->q && i < u->nq; i++) {
		struct uring_queue *q = &u->q[i];

		/* closing a ring cancels its commands still in the kernel */
		if (q->ring_ok)
			io_uring_queue_exit(&q->ring);
		pthread_mutex_destroy(&q->sq_mu);
		for (unsigned j = 0; j < URING_DEPTH; j++) {
			free(q->ents[j].hdr);
			free(q->ents[j].mem);
		}
	}
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	free(u->q);
	free(u);
}
