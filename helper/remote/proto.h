/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mqfuse remote protocol, version 1 (Documentation/protocol.rst is the
 * reference; this header is its C form).  mqfused (the client, a tcp://
 * source) forwards the kernel's FUSE requests to mqfuse-server, which
 * serves them on a directory with mqfused's own request code.
 *
 * Every message: struct mqr_hdr, then len - sizeof(hdr) bytes of body.
 * All integers little-endian (both ends are x86_64 or another LE host;
 * a big-endian peer is refused by the magic).  Every length is checked
 * before it is used; a message that breaks a rule ends the connection.
 *
 * Connection: HELLO (client) -> CHALLENGE (server) -> AUTH (client) ->
 * WELCOME (server), then REQ (client) and REPLY (server) in any number
 * and order: a connection carries many requests in flight, and replies
 * come back in the order they finish.  A wrong secret gets ERROR and the
 * connection closes.
 */
#ifndef MQFUSE_REMOTE_PROTO_H
#define MQFUSE_REMOTE_PROTO_H

#include <stdint.h>

#define MQR_MAGIC		0x3152514du	/* "MQR1" in memory */
#define MQR_VERSION		1
#define MQR_DEFAULT_PORT	7419

enum mqr_type {
	MQR_HELLO	= 1,
	MQR_CHALLENGE	= 2,
	MQR_AUTH	= 3,
	MQR_WELCOME	= 4,
	MQR_REQ		= 5,
	MQR_REPLY	= 6,
	MQR_ERROR	= 7,
};

/* mqr_hdr.flags */
#define MQR_F_INTERNAL	0x0001	/* REQ/REPLY: the client's own (INIT), not the kernel's */
#define MQR_F_KNOWN	MQR_F_INTERNAL

struct mqr_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t flags;
	uint32_t len;		/* whole message, this header included */
	uint32_t crc;		/* CRC32C of the body; 0 unless MQR_FEAT_CRC32C */
	uint64_t seq;		/* REQ/REPLY: the FUSE unique; else 0 */
};

#define MQR_NONCE_LEN	32
#define MQR_MAC_LEN	32
#define MQR_SESSION_LEN	16

/* features (HELLO offers, CHALLENGE accepts) */
#define MQR_FEAT_CRC32C	0x0001	/* REQ and REPLY bodies carry a CRC32C */
#define MQR_FEAT_KNOWN	MQR_FEAT_CRC32C

struct mqr_hello {
	uint16_t version_min;
	uint16_t version_max;
	uint32_t features;
	uint8_t nonce[MQR_NONCE_LEN];		/* the client's, fresh */
	uint8_t session[MQR_SESSION_LEN];	/* the client's session id */
	uint32_t conn_index;			/* which of its connections */
	uint32_t reserved;			/* 0 */
};

/*
 * proof = HMAC-SHA256(secret, "mqfuse-server\0" || version (u16) ||
 *         features (u32) || client nonce || server nonce || session)
 */
struct mqr_challenge {
	uint16_t version;			/* chosen */
	uint16_t reserved;			/* 0 */
	uint32_t features;			/* accepted: a subset of HELLO's */
	uint8_t nonce[MQR_NONCE_LEN];		/* the server's, fresh */
	uint8_t proof[MQR_MAC_LEN];
};

/*
 * proof = HMAC-SHA256(secret, "mqfuse-client\0" || server nonce ||
 *         client nonce || session || conn_index (u32))
 */
struct mqr_auth {
	uint8_t proof[MQR_MAC_LEN];
};

/* WELCOME.flags */
#define MQR_W_NEW_SESSION	0x0001	/* no state here: the client sends INIT */

struct mqr_welcome {
	uint32_t flags;
	uint32_t max_msg;	/* largest message either side may send */
	uint32_t reserved[2];
};

struct mqr_error {
	int32_t error;		/* a negative errno */
	uint32_t reserved;
};

/*
 * REQ body: this, @ngroups gids (the caller's supplementary groups, as the
 * client's host knows them), then the FUSE request exactly as the kernel
 * sent it (fuse_in_header whose len covers the rest of the message).
 * REPLY body: the FUSE reply (fuse_out_header whose len is the body's).
 */
struct mqr_req {
	uint32_t ngroups;
	uint32_t reserved;	/* 0 */
};

#define MQR_MAX_GROUPS		64
/* Payload room: 8 MiB READ/WRITE + headers, groups and slack. */
#define MQR_MAX_MSG		((8u << 20) + 8192)

#endif
