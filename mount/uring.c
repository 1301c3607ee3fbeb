/*
 * uring.c - FUSE-over-io_uring for mount.pmfs (uring.h, transport.h (4)):
 * one io_uring per possible CPU (the kernel's queue id is the CPU a
 * request's caller runs on, so every queue must be served), each with
 * URING_DEPTH free entries (more while deferred replies hold some) and one
 * thread that registers them, waits for their completions and hands each
 * request to transport.c as a whole buffer.
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
 * Threads, and the rule that keeps them out of each other's way:
 *  (1) Only a queue's own thread submits commands on its ring (REGISTER,
 *      COMMIT_AND_FETCH).  The kernel hands the next request of an entry
 *      to the task that submitted its COMMIT_AND_FETCH, as task work; a
 *      thread that may block elsewhere (fuse_ll.c's pm_inval waits for
 *      page locks: rule (8) there) must never own an entry, or a reader
 *      that holds a page lock and waits for a READ queued to that entry
 *      waits forever.  The ring is made on its thread with
 *      IORING_SETUP_SINGLE_ISSUER where the kernel has it, so the kernel
 *      enforces the rule.
 *  (2) A reply sent from any other thread is copied into its entry and put
 *      on the queue's pending list; the thread is woken by its eventfd
 *      (a read it keeps queued on its ring) and submits the commands.
 *  (3) uring_start returns once every thread has submitted its REGISTERs
 *      or failed; a local failure before that makes the caller refuse the
 *      ring (uring_refuse), so that the kernel never waits for a queue
 *      that will not come.
 *  (4) The end has two steps.  uring_stop: each thread finishes the
 *      request it serves and serves no more; a request that still comes
 *      is answered ENOTCONN, and replies sent later (deferred ones) still
 *      go out through the thread.  uring_close: the threads end, the
 *      rings close; a reply sent after that is dropped (its caller sees
 *      the connection end), it never goes to /dev/fuse.
 * The queue threads block every signal, so that SIGTERM/SIGINT reach
 * libfuse's loop as before.
 */
#include <errno.h>
#include <liburing.h>
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
 * Free entries per queue.  A queue's thread serves one request at a time;
 * the other entries hold requests the kernel hands over meanwhile.  A
 * request whose reply was deferred (fuse_ll.c rule (8)) keeps its entry
 * until that reply, and the reply may wait for a READ on the same queue
 * (the invalidation waits for the page its reader locked): so when
 * deferred replies hold entries, the queue registers more, up to
 * URING_MAX_ENTS (the kernel sends at most max_background asynchronous
 * requests at once), and URING_DEPTH stay free for other requests.
 */
#define URING_DEPTH 4
#define URING_MAX_ENTS 64
#define URING_SQ_SIZE 16    /* commands submitted at once (more: in turns) */
#define URING_CQ_SIZE 128   /* > URING_MAX_ENTS commands + the wake read */
#define URING_HDR_ROOM 4096 /* before the payload: the two headers */
#define URING_HDR_ALIGN 64  /* header buffer: one cache line */
#define URING_BUF_ALIGN 4096 /* payload room: page-aligned, as read(2)'s */
#define URING_MAX_CPUS 4096 /* queues we make at most (CONFIG_NR_CPUS) */
#define TAG_WAKE UINT64_MAX
#define TAG_PROBE (UINT64_MAX - 1)

_Static_assert(URING_HDR_ROOM >=
		       sizeof(struct abi_in_header) + ABI_URING_OP_IN_SZ,
	       "room for the request's headers before the payload");

struct uring_queue;

/* Where an entry is: what its last command was, or that it is gone. */
enum uring_ent_state {
	ENT_IDLE,	/* not registered (yet, or again after a failure) */
	ENT_REGISTER,	/* REGISTER submitted */
	ENT_SERVING,	/* a request came: being served */
	ENT_COMMIT,	/* COMMIT_AND_FETCH submitted */
	ENT_LOST,	/* the kernel refused it: not used again */
};

struct uring_ent {
	struct uring_queue *q;
	unsigned tag; /* its index in q->ents, the commands' user_data */
	struct abi_uring_req_header *hdr; /* iov[0] */
	uint8_t *mem;			  /* URING_HDR_ROOM + payload */
	struct iovec iov[2];
	_Atomic uint64_t unique; /* the request being served, or 0 */
	enum uring_ent_state state; /* the queue thread's alone */
	/* on the queue's pending list: rule (2) */
	struct uring_ent *next_pending;
	uint64_t commit_id;
};

/* What a queue thread reports to uring_start: rule (3). */
enum uring_q_state { Q_STARTING, Q_READY, Q_FAILED };

struct uring_queue {
	struct uring *u;
	unsigned qid;
	struct io_uring ring; /* made and used by th alone: rule (1) */
	bool ring_ok;
	int wake_fd;	      /* eventfd: pending replies, or stop */
	uint64_t wake_buf;    /* where the ring reads wake_fd */
	pthread_mutex_t mu;   /* pending */
	struct uring_ent *pending, **pending_tail;
	pthread_t th;
	bool th_ok;
	enum uring_q_state state; /* under u->start_mu */
	bool drained, exited;	  /* under u->start_mu: rule (4) */
	char why[128];		  /* Q_FAILED: why */
	/* ents[0..nents): added by th alone, read by claim() anywhere */
	struct uring_ent *ents[URING_MAX_ENTS];
	_Atomic unsigned nents;
	bool said_full; /* the "no more entries" message, once */
};

struct uring {
	int fd; /* /dev/fuse */
	unsigned nq;
	size_t payload;
	uring_serve_fn serve;
	void *arg;
	struct io_uring probe; /* asks the kernel, refuses: no entries */
	bool probe_ok;
	atomic_bool started;  /* serve, payload and the entries are set */
	atomic_bool draining; /* serve no more: rule (4) */
	atomic_bool stopping; /* the threads must end */
	atomic_bool served;   /* a request came through some entry */
	atomic_bool said_register, said_commit; /* one message each */
	pthread_mutex_t start_mu;
	pthread_cond_t start_cv;
	struct uring_queue *q;
};

/* ---- rings -------------------------------------------------------------- */

/*
 * Possible CPUs, counted as the kernel counts its queues
 * (num_possible_cpus() in fs/fuse/dev_uring.c): the CPUs listed in
 * /sys/devices/system/cpu/possible.
 */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char line[256], *p = line, *end;
	unsigned long n = 0;

	if (f && fgets(line, sizeof(line), f)) {
		while (*p >= '0' && *p <= '9') {
			unsigned long lo = strtoul(p, &end, 10), hi = lo;

			if (*end == '-')
				hi = strtoul(end + 1, &end, 10);
			if (hi >= lo)
				n += hi - lo + 1;
			p = *end == ',' ? end + 1 : end;
		}
	}
	if (f)
		fclose(f);
	if (!n) {
		int c = get_nprocs_conf();

		n = c > 0 ? (unsigned)c : 1;
	}
	return n > URING_MAX_CPUS ? URING_MAX_CPUS : (unsigned)n;
}

/*
 * Queue one ring command on ring for queue qid: REGISTER (of e, or of
 * nothing: a probe or a refusal) or COMMIT_AND_FETCH of the reply to
 * commit_id.  Not submitted yet.  0, or -EBUSY if the queue is full.
 */
static int queue_cmd(struct io_uring *ring, int fd, unsigned qid,
		     unsigned op, const struct uring_ent *e,
		     uint64_t commit_id, uint64_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct abi_uring_cmd_req *c;

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe)); /* IORING_SETUP_SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	if (e && op == ABI_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	}
	sqe->user_data = tag;
	c = (struct abi_uring_cmd_req *)sqe->cmd;
	c->commit_id = commit_id;
	c->qid = (uint16_t)qid;
	return 0;
}

/* Submit what is queued on ring.  0 or -errno. */
static int submit(struct io_uring *ring)
{
	int r;

	do
		r = io_uring_submit(ring);
	while (r == -EINTR);
	return r < 0 ? r : 0;
}

/* The first completion of `tag` on ring. */
static int wait_tag(struct io_uring *ring, uint64_t tag)
{
	struct io_uring_cqe *cqe;
	int r;

	for (;;) {
		r = io_uring_wait_cqe(ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		if (cqe->user_data == tag) {
			r = cqe->res;
			io_uring_cqe_seen(ring, cqe);
			return r;
		}
		io_uring_cqe_seen(ring, cqe);
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
	pthread_mutex_init(&u->start_mu, NULL);
	pthread_cond_init(&u->start_cv, NULL);
	u->q = calloc(u->nq, sizeof(*u->q));
	if (!u->q) {
		free(u);
		snprintf(why, n, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (unsigned i = 0; i < u->nq; i++)
		u->q[i].wake_fd = -1;
	for (unsigned i = 0; i < u->nq; i++) {
		struct uring_queue *q = &u->q[i];

		q->u = u;
		q->qid = i;
		q->pending_tail = &q->pending;
		pthread_mutex_init(&q->mu, NULL);
		q->wake_fd = eventfd(0, EFD_CLOEXEC);
		if (q->wake_fd < 0) {
			r = -errno;
			snprintf(why, n, "eventfd: %s", strerror(-r));
			goto fail;
		}
	}
	/* the probe has a ring of its own: the queues' rings are made on
	 * their threads (rule (1)) */
	r = io_uring_queue_init(2, &u->probe, IORING_SETUP_SQE128);
	if (r) {
		snprintf(why, n, "io_uring_setup (128-byte entries): %s",
			 strerror(-r));
		goto fail;
	}
	u->probe_ok = true;
	/* before INIT is answered, a kernel that takes ring commands on
	 * /dev/fuse refuses REGISTER with EAGAIN (and nothing is made) */
	r = queue_cmd(&u->probe, fuse_fd, 0, ABI_URING_CMD_REGISTER, NULL, 0,
		      TAG_PROBE);
	if (!r)
		r = submit(&u->probe);
	if (!r)
		r = wait_tag(&u->probe, TAG_PROBE);
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

/* ---- serving (on the queue's thread) ------------------------------------ */

/* Queue e's next command: its commit (pending) or its REGISTER. */
static int queue_ent(struct uring_ent *e, unsigned op, uint64_t commit_id)
{
	struct uring_queue *q = e->q;
	int r;

	r = queue_cmd(&q->ring, q->u->fd, q->qid, op, e, commit_id,
		      e->tag);
	if (r == -EBUSY && !(r = submit(&q->ring)))
		r = queue_cmd(&q->ring, q->u->fd, q->qid, op, e, commit_id,
			      e->tag);
	if (!r)
		e->state = op == ABI_URING_CMD_REGISTER ? ENT_REGISTER
							: ENT_COMMIT;
	return r;
}

/* A command of e's failed with res (or could not be submitted): say so
 * once, and register the entry again after a failed commit. */
static void ent_failed(struct uring_ent *e, int res)
{
	struct uring *u = e->q->u;
	bool was_commit = e->state == ENT_COMMIT;

	e->state = ENT_LOST;
	if (res == -ENOTCONN || res == -ECANCELED || res == -ECONNABORTED)
		return; /* unmounted: the kernel hands every entry back */
	if (was_commit) {
		if (!atomic_exchange(&u->said_commit, true))
			fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue "
				 "%u: COMMIT_AND_FETCH failed: %s; the entry "
				 "is registered again\n", e->q->qid,
				 strerror(-res));
		if (!queue_ent(e, ABI_URING_CMD_REGISTER, 0))
			return;
		e->state = ENT_LOST;
	}
	if (atomic_exchange(&u->said_register, true))
		return;
	if (!atomic_load(&u->served))
		/* the kernel then turns io_uring off for the connection and
		 * sends requests on /dev/fuse (fs/fuse/dev_uring.c) */
		fuse_log(FUSE_LOG_WARNING, "mount.pmfs: io_uring: the kernel "
			 "refused REGISTER on queue %u: %s; serving requests "
			 "from /dev/fuse\n", e->q->qid, strerror(-res));
	else
		/* the rings are up: the kernel keeps them */
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue %u: "
			 "REGISTER failed: %s; the queue has one entry "
			 "fewer\n", e->q->qid, strerror(-res));
}

/* Answer the request in e with an error and no payload (not sent yet). */
static void fill_err(struct uring_ent *e, uint64_t unique, int err)
{
	struct abi_out_header out = {
		.len = sizeof(out), .error = err, .unique = unique,
	};

	memcpy(e->hdr->in_out, &out, sizeof(out));
	memset(&e->hdr->ring_ent_in_out, 0, sizeof(e->hdr->ring_ent_in_out));
}

/* The queue thread of this thread, or NULL: rule (1). */
static __thread struct uring_queue *uring_self;

/* e holds the reply to commit_id: have q's thread commit it (rule (2)). */
static void post_commit(struct uring_ent *e, uint64_t commit_id)
{
	struct uring_queue *q = e->q;
	uint64_t one = 1;

	e->commit_id = commit_id;
	e->next_pending = NULL;
	pthread_mutex_lock(&q->mu);
	*q->pending_tail = e;
	q->pending_tail = &e->next_pending;
	pthread_mutex_unlock(&q->mu);
	/* on its own thread the loop submits it after the handler returns */
	if (uring_self != q && write(q->wake_fd, &one, sizeof(one)) < 0)
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue %u: "
			 "cannot wake the queue: %s\n", q->qid,
			 strerror(errno));
}

/* Submit the commits on q's pending list (on q's thread). */
static void flush_pending(struct uring_queue *q)
{
	struct uring_ent *e, *next;
	int r = 0;

	pthread_mutex_lock(&q->mu);
	e = q->pending;
	q->pending = NULL;
	q->pending_tail = &q->pending;
	pthread_mutex_unlock(&q->mu);
	for (; e; e = next) {
		next = e->next_pending;
		r = queue_ent(e, ABI_URING_CMD_COMMIT_AND_FETCH, e->commit_id);
		if (r)
			ent_failed(e, r);
	}
	r = submit(&q->ring);
	if (r)
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue %u: "
			 "cannot submit: %s\n", q->qid, strerror(-r));
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
		fill_err(e, h.unique, -EIO);
		post_commit(e, h.unique);
		return;
	}
	opsz = h.len - sizeof(h) - psz;
	buf = e->mem + URING_HDR_ROOM - opsz - sizeof(h);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), e->hdr->op_in, opsz);
	atomic_store(&e->unique, h.unique); /* before any reply can come */
	u->serve(u->arg, buf, h.len);
}

/* A new entry of q, with its buffers, at the end of q->ents (on q's
 * thread, or before it starts).  0, -ENOMEM or -ENOSPC (all made). */
static int ent_new(struct uring_queue *q)
{
	unsigned n = atomic_load(&q->nents);
	struct uring_ent *e;
	void *h = NULL, *m = NULL;

	if (n == URING_MAX_ENTS)
		return -ENOSPC;
	e = calloc(1, sizeof(*e));
	if (!e || posix_memalign(&h, URING_HDR_ALIGN, sizeof(*e->hdr)) ||
	    posix_memalign(&m, URING_BUF_ALIGN,
			   URING_HDR_ROOM + q->u->payload)) {
		free(e);
		free(h);
		return -ENOMEM;
	}
	e->q = q;
	e->tag = n;
	e->hdr = h;
	e->mem = m;
	memset(e->hdr, 0, sizeof(*e->hdr));
	e->iov[0].iov_base = e->hdr;
	e->iov[0].iov_len = sizeof(*e->hdr);
	e->iov[1].iov_base = e->mem + URING_HDR_ROOM;
	e->iov[1].iov_len = q->u->payload;
	q->ents[n] = e;
	atomic_store_explicit(&q->nents, n + 1, memory_order_release);
	return 0;
}

/*
 * After a request was served: if deferred replies hold entries, so that
 * fewer than URING_DEPTH are free, register one more (see URING_DEPTH).
 */
static void keep_free(struct uring_queue *q)
{
	unsigned n = atomic_load(&q->nents), held = 0;
	int r;

	for (unsigned i = 0; i < n; i++)
		held += atomic_load(&q->ents[i]->unique) != 0 ||
			q->ents[i]->state == ENT_LOST;
	if (n - held >= URING_DEPTH)
		return;
	r = ent_new(q);
	if (!r)
		r = queue_ent(q->ents[n], ABI_URING_CMD_REGISTER, 0);
	if (r && !q->said_full) {
		q->said_full = true;
		fuse_log(FUSE_LOG_WARNING, "mount.pmfs: io_uring: queue %u: "
			 "cannot add an entry for %u deferred replies: %s\n",
			 q->qid, held, strerror(-r));
	}
}

/* The first URING_DEPTH entries of every queue; 0 or -ENOMEM. */
static int alloc_ents(struct uring *u)
{
	for (unsigned i = 0; i < u->nq; i++)
		for (unsigned j = 0; j < URING_DEPTH; j++)
			if (ent_new(&u->q[i]))
				return -ENOMEM;
	return 0;
}

/* A request after uring_stop: answered ENOTCONN (rule (4)). */
static void refuse_ent(struct uring_ent *e)
{
	struct abi_in_header h;

	memcpy(&h, e->hdr->in_out, sizeof(h));
	fill_err(e, h.unique, -ENOTCONN);
	post_commit(e, h.unique);
}

/* Tell uring_start how this queue's start went: rule (3). */
static void report(struct uring_queue *q, enum uring_q_state st,
		   const char *what, int err)
{
	struct uring *u = q->u;

	pthread_mutex_lock(&u->start_mu);
	if (st == Q_FAILED)
		snprintf(q->why, sizeof(q->why), "queue %u: %s: %s", q->qid,
			 what, strerror(-err));
	q->state = st;
	pthread_cond_broadcast(&u->start_cv);
	pthread_mutex_unlock(&u->start_mu);
}

/* Tell uring_stop that this thread serves no more (or ended): rule (4). */
static void report_end(struct uring_queue *q, bool exited)
{
	struct uring *u = q->u;

	pthread_mutex_lock(&u->start_mu);
	q->drained = true;
	q->exited = q->exited || exited;
	pthread_cond_broadcast(&u->start_cv);
	pthread_mutex_unlock(&u->start_mu);
}

/* Queue the read of wake_fd that wakes the thread: rule (2). */
static int arm_wake(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));
	io_uring_prep_read(sqe, q->wake_fd, &q->wake_buf,
			   sizeof(q->wake_buf), 0);
	io_uring_sqe_set_data64(sqe, TAG_WAKE);
	return 0;
}

/* Make q's ring, owned by this thread (rule (1)).  0 or -errno. */
static int make_ring(struct uring_queue *q)
{
	unsigned flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER;
	struct io_uring_params p = {
		.flags = flags | IORING_SETUP_CQSIZE,
		.cq_entries = URING_CQ_SIZE,
	};
	int r = io_uring_queue_init_params(URING_SQ_SIZE, &q->ring, &p);

	if (r == -EINVAL) { /* a kernel before 6.0: the rule is ours alone */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
		p.cq_entries = URING_CQ_SIZE;
		r = io_uring_queue_init_params(URING_SQ_SIZE, &q->ring, &p);
	}
	q->ring_ok = r == 0;
	return r;
}

/* Make the ring, queue the wake read and the REGISTERs, submit them. */
static int queue_setup(struct uring_queue *q, const char **what)
{
	int r;

	*what = "io_uring_setup (128-byte entries)";
	if ((r = make_ring(q)) != 0)
		return r;
	*what = "the wake read";
	if ((r = arm_wake(q)) != 0)
		return r;
	*what = "REGISTER";
	for (unsigned i = 0; i < atomic_load(&q->nents); i++)
		if ((r = queue_ent(q->ents[i], ABI_URING_CMD_REGISTER, 0)))
			return r;
	return submit(&q->ring);
}

/* A queue's thread: register its entries, serve what they bring. */
static void *queue_main(void *arg)
{
	struct uring_queue *q = arg;
	struct io_uring_cqe *cqe;
	const char *what;
	cpu_set_t cpus;
	int r;

	uring_self = q;
	/* the kernel picks the queue by the caller's CPU: stay near it
	 * (a CPU that is offline refuses, and the thread runs anywhere) */
	CPU_ZERO(&cpus);
	CPU_SET(q->qid, &cpus);
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);

	r = queue_setup(q, &what);
	report(q, r ? Q_FAILED : Q_READY, what, r);
	if (r) {
		report_end(q, true);
		return NULL;
	}
	while (!atomic_load(&q->u->stopping)) {
		uint64_t tag;
		int res;

		if (!q->drained && atomic_load(&q->u->draining))
			report_end(q, false);
		flush_pending(q);
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
		if (tag == TAG_WAKE) {
			/* the pending list is looked at on the way round */
			if ((r = arm_wake(q)) != 0) {
				fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: "
					 "queue %u: cannot wait: %s\n",
					 q->qid, strerror(-r));
				break;
			}
			continue;
		}
		if (tag >= atomic_load(&q->nents))
			continue;
		if (res < 0) {
			ent_failed(q->ents[tag], res);
			continue;
		}
		q->ents[tag]->state = ENT_SERVING;
		atomic_store(&q->u->served, true);
		if (q->drained) {
			refuse_ent(q->ents[tag]);
		} else {
			serve_ent(q->ents[tag]);
			keep_free(q);
		}
	}
	flush_pending(q); /* what was answered goes out: rule (4) */
	report_end(q, true);
	return NULL;
}

/* Wait until every started thread reported (rule (3)); 0, or the first
 * failure with its reason in why. */
static int wait_started(struct uring *u, char *why, size_t n)
{
	int r = 0;

	pthread_mutex_lock(&u->start_mu);
	for (unsigned i = 0; i < u->nq; i++) {
		struct uring_queue *q = &u->q[i];

		while (q->th_ok && q->state == Q_STARTING)
			pthread_cond_wait(&u->start_cv, &u->start_mu);
		if (!r && q->state == Q_FAILED) {
			snprintf(why, n, "%s", q->why);
			r = -EIO;
		}
	}
	pthread_mutex_unlock(&u->start_mu);
	return r;
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
	/* replies may come as soon as a thread registered its entries,
	 * before uring_start returns: they must find them */
	atomic_store(&u->started, true);
	/* the threads inherit the mask: signals go to libfuse's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < u->nq && !r; i++) {
		r = -pthread_create(&u->q[i].th, NULL, queue_main, &u->q[i]);
		u->q[i].th_ok = r == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		snprintf(why, n, "cannot start a queue thread: %s",
			 strerror(-r));
		return r; /* uring_close joins those that started */
	}
	return wait_started(u, why, n);
}

void uring_refuse(struct uring *u)
{
	/* REGISTER without buffers: EINVAL, and the kernel turns io_uring
	 * off for the connection before any queue is complete */
	if (queue_cmd(&u->probe, u->fd, 0, ABI_URING_CMD_REGISTER, NULL, 0,
		      TAG_PROBE) ||
	    submit(&u->probe))
		fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: cannot refuse "
			 "the rings; requests may wait forever\n");
	else
		wait_tag(&u->probe, TAG_PROBE);
}

/* ---- replies ------------------------------------------------------------ */

/* The entry serving unique, taken out of service; NULL if none. */
static struct uring_ent *claim(struct uring *u, uint64_t unique)
{
	for (unsigned i = 0; i < u->nq; i++) {
		struct uring_queue *q = &u->q[i];
		unsigned n = atomic_load_explicit(&q->nents,
						  memory_order_acquire);

		for (unsigned j = 0; j < n; j++) {
			struct uring_ent *e = q->ents[j];
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

	if (!u || !atomic_load(&u->started) || count < 1 ||
	    iov[0].iov_len != sizeof(out))
		return false;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (!out.unique || !(e = claim(u, out.unique)))
		return false;
	for (int i = 1; i < count; i++)
		total += iov[i].iov_len;
	*n = (ssize_t)(sizeof(out) + total);
	if (out.error || total > u->payload) {
		if (!out.error)
			/* said here once; libfuse hears success, so it does
			 * not say it again */
			fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: queue "
				 "%u: a reply of %zu bytes exceeds the entry's "
				 "%zu: answered EIO instead\n", e->q->qid,
				 total, u->payload);
		fill_err(e, out.unique, out.error ? out.error : -EIO);
		post_commit(e, out.unique);
		return true;
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
	post_commit(e, out.unique);
	return true;
}

/* ---- the end ------------------------------------------------------------ */

/* Wake every thread, so that it sees draining or stopping. */
static void wake_all(struct uring *u)
{
	uint64_t one = 1;

	for (unsigned i = 0; u->q && i < u->nq; i++) {
		struct uring_queue *q = &u->q[i];

		if (q->th_ok && write(q->wake_fd, &one, sizeof(one)) < 0)
			fuse_log(FUSE_LOG_ERR, "mount.pmfs: io_uring: cannot "
				 "wake queue %u: %s\n", q->qid,
				 strerror(errno));
	}
}

void uring_stop(struct uring *u)
{
	if (!u || atomic_exchange(&u->draining, true))
		return;
	wake_all(u);
	pthread_mutex_lock(&u->start_mu);
	for (unsigned i = 0; i < u->nq; i++)
		while (u->q[i].th_ok && !u->q[i].drained)
			pthread_cond_wait(&u->start_cv, &u->start_mu);
	pthread_mutex_unlock(&u->start_mu);
}

void uring_close(struct uring *u)
{
	if (!u)
		return;
	atomic_store(&u->stopping, true);
	wake_all(u);
	for (unsigned i = 0; u->q && i < u->nq; i++) {
		if (u->q[i].th_ok)
			pthread_join(u->q[i].th, NULL);
		u->q[i].th_ok = false;
	}
	for (unsigned i = 0; u->q && i < u->nq; i++) {
		struct uring_queue *q = &u->q[i];

		/* closing a ring cancels its commands still in the kernel */
		if (q->ring_ok)
			io_uring_queue_exit(&q->ring);
		if (q->wake_fd >= 0)
			close(q->wake_fd);
		pthread_mutex_destroy(&q->mu);
		for (unsigned j = 0; j < atomic_load(&q->nents); j++) {
			free(q->ents[j]->hdr);
			free(q->ents[j]->mem);
			free(q->ents[j]);
		}
	}
	if (u->probe_ok)
		io_uring_queue_exit(&u->probe);
	pthread_mutex_destroy(&u->start_mu);
	pthread_cond_destroy(&u->start_cv);
	free(u->q);
	free(u);
}
