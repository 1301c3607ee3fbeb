/*
 * fuse_abi.h - the parts of the kernel's FUSE ABI (uapi linux/fuse.h) that
 * the transport reads or writes itself: the request and reply headers, and
 * FUSE-over-io_uring (protocol 7.42 and later; fs/fuse/dev_uring.c).  They
 * are written out here, with size and offset asserts, so that the build
 * does not depend on the machine's linux/fuse.h: Debian 12's (6.1)
 * predates io_uring, and libfuse 3.14 keeps its own copy private.  Only the
 * fields pmfs uses are named.
 *
 * Private to mount/ (transport.c, uring.c).
 */
#ifndef PMFS_FUSE_ABI_H
#define PMFS_FUSE_ABI_H

#include <stddef.h>
#include <stdint.h>

/* ---- every request and reply -------------------------------------------- */

struct abi_in_header {
	uint32_t len; /* the whole request, this header included */
	uint32_t opcode;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen;
	uint16_t padding;
};
_Static_assert(sizeof(struct abi_in_header) == 40, "fuse_in_header");

struct abi_out_header {
	uint32_t len; /* the whole reply, this header included */
	int32_t error;
	uint64_t unique; /* 0: a notification */
};
_Static_assert(sizeof(struct abi_out_header) == 16, "fuse_out_header");

/* ---- FUSE-over-io_uring ------------------------------------------------- */

/* INIT flag (fuse_init_in/out: bit 9 of flags2, with FUSE_INIT_EXT) */
#define ABI_OVER_IO_URING (1ull << 41)

/* sqe->cmd_op of IORING_OP_URING_CMD on the /dev/fuse fd */
#define ABI_URING_CMD_REGISTER 1u	  /* hand the kernel an entry */
#define ABI_URING_CMD_COMMIT_AND_FETCH 2u /* reply, and wait for the next */

#define ABI_URING_IN_OUT_SZ 128 /* fuse_in_header / fuse_out_header room */
#define ABI_URING_OP_IN_SZ 128	/* the opcode's own header room */
#define ABI_URING_MIN_PAYLOAD 8192 /* FUSE_MIN_READ_BUFFER */

/* Written by the kernel with each request, by the server with each reply. */
struct abi_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* the request's unique */
	uint32_t payload_sz; /* bytes used in the payload buffer */
	uint32_t padding;    /* must be 0 */
	uint64_t reserved;
};
_Static_assert(sizeof(struct abi_uring_ent_in_out) == 32, "ent_in_out");
_Static_assert(offsetof(struct abi_uring_ent_in_out, payload_sz) == 16,
	       "ent_in_out.payload_sz");

/*
 * The header buffer of an entry (iov[0] of REGISTER).  A request: its
 * fuse_in_header in in_out, its first argument (the opcode's fixed header,
 * possibly empty) in op_in, every further argument in the payload buffer
 * one after the other.  A reply: fuse_out_header in in_out, every out
 * argument in the payload buffer, payload_sz their total.
 */
struct abi_uring_req_header {
	uint8_t in_out[ABI_URING_IN_OUT_SZ];
	uint8_t op_in[ABI_URING_OP_IN_SZ];
	struct abi_uring_ent_in_out ring_ent_in_out;
};
_Static_assert(sizeof(struct abi_uring_req_header) == 288, "req_header");
_Static_assert(offsetof(struct abi_uring_req_header, op_in) == 128,
	       "req_header.op_in");
_Static_assert(offsetof(struct abi_uring_req_header, ring_ent_in_out) == 256,
	       "req_header.ring_ent_in_out");

/* The command in the SQE128's 80-byte cmd area. */
struct abi_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id; /* COMMIT_AND_FETCH: the unique replied to */
	uint16_t qid;	    /* the queue (= CPU) of the entry */
	uint8_t padding[6];
};
_Static_assert(sizeof(struct abi_uring_cmd_req) == 24, "cmd_req");
_Static_assert(offsetof(struct abi_uring_cmd_req, qid) == 16, "cmd_req.qid");

#endif /* PMFS_FUSE_ABI_H */
