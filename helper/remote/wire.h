/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What mqfused (client) and mqfuse-server share of the remote protocol:
 * whole-message I/O, the shared secret, the handshake's proofs and the
 * client's side of the handshake.  Functions return 0 / a count, or a
 * negative errno.
 */
#ifndef MQFUSE_REMOTE_WIRE_H
#define MQFUSE_REMOTE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "proto.h"

#define MQR_SECRET_MIN	16
#define MQR_SECRET_MAX	4096

struct mqr_secret {
	uint8_t key[MQR_SECRET_MAX];
	size_t len;
};

/*
 * The secret in @path: 16 to 4096 bytes (one trailing newline dropped),
 * in a regular file that neither group nor others may read.  On error
 * @why says what is wrong.
 */
int mqr_secret_load(const char *path, struct mqr_secret *s, char *why,
		    size_t why_len);

/* All of @len bytes; -EPIPE at end of file, -ETIMEDOUT on SO_RCVTIMEO. */
int mqr_read_full(int fd, void *buf, size_t len);
/* All of the iovecs (modified), MSG_NOSIGNAL. */
int mqr_writev_full(int fd, struct iovec *iov, int iovcnt);
/* A header, then @body of @len bytes. */
int mqr_send(int fd, uint16_t type, uint16_t flags, uint64_t seq,
	     const void *body, uint32_t len);
/* Header of a message of @type whose body is exactly @len bytes, and the body. */
int mqr_recv_fixed(int fd, uint16_t type, void *body, uint32_t len,
		   int32_t *peer_error);
/* A header is well formed: magic, a known type, flags, len in range. */
bool mqr_hdr_ok(const struct mqr_hdr *h, uint32_t max_msg);

void mqr_server_proof(const struct mqr_secret *s, uint16_t version,
		      uint32_t features, const uint8_t *cnonce,
		      const uint8_t *snonce, const uint8_t *session,
		      uint8_t *out);
void mqr_client_proof(const struct mqr_secret *s, const uint8_t *snonce,
		      const uint8_t *cnonce, const uint8_t *session,
		      uint32_t conn_index, uint8_t *out);

/*
 * "HOST:PORT" or "[V6]:PORT" (PORT may be left out: MQR_DEFAULT_PORT) to
 * a socket address; @passive for a listening one (HOST may be *).
 */
int mqr_resolve(const char *hostport, bool passive,
		struct sockaddr_storage *ss, socklen_t *len);
/*
 * TCP_NODELAY, and a peer that is gone (host down, cable cut) noticed:
 * within about 25 s of silence by keepalive probes (after 10 s, every
 * 5 s, 3 unanswered), within 60 s by TCP_USER_TIMEOUT for data that is
 * not acknowledged.  The connection then fails and is reconnected.
 */
void mqr_tcp_liveness(int fd);
/* Printable form of @ss for messages. */
const char *mqr_addr_str(const struct sockaddr_storage *ss, char *buf,
			 size_t len);

/*
 * Client: connect to @ss (timeout @timeout_ms), do the handshake as
 * connection @conn_index of @session, and return the fd (blocking,
 * TCP_NODELAY).  *@welcome says whether the server knew the session.
 * -EACCES: the server refused our secret; -EPERM: the server failed to
 * prove it knows the secret; -EPROTONOSUPPORT: it does not do all of
 * @features (MQR_FEAT_*).
 */
int mqr_client_connect(const struct sockaddr_storage *ss, socklen_t sslen,
		       const struct mqr_secret *s, const uint8_t *session,
		       uint32_t conn_index, uint32_t features, int timeout_ms,
		       struct mqr_welcome *welcome);
/*
 * The CRC32C of a message's body, in pieces (MQR_FEAT_CRC32C): start at
 * 0 and feed each piece.  -EBADMSG when a received one does not match.
 */
static inline uint32_t mqr_body_crc(uint32_t crc, const void *p, size_t len);

#include "mqcrypto.h"
static inline uint32_t mqr_body_crc(uint32_t crc, const void *p, size_t len)
{
	return mq_crc32c(crc, p, len);
}

#endif
