// SPDX-License-Identifier: GPL-2.0
/*
 * The remote protocol's shared half (wire.h): message I/O, the secret,
 * the proofs and the client's handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>

#include "mqcrypto.h"
#include "wire.h"

int mqr_secret_load(const char *path, struct mqr_secret *s, char *why,
		    size_t why_len)
{
	struct stat st;
	ssize_t n;
	int fd, err;

	memset(s, 0, sizeof(*s));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = errno;
		snprintf(why, why_len, "%s: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st)) {
		err = errno;
		close(fd);
		snprintf(why, why_len, "%s: %s", path, strerror(err));
		return -err;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		close(fd);
		snprintf(why, why_len,
			 "%s: must be a regular file that only its owner can read (chmod 600)",
			 path);
		return -EPERM;
	}
	n = read(fd, s->key, sizeof(s->key));
	err = n < 0 ? errno : 0;
	if (n == (ssize_t)sizeof(s->key)) {
		char extra;

		if (read(fd, &extra, 1) == 1)
			n = -1, err = EFBIG;
	}
	close(fd);
	if (n < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(err));
		memset(s, 0, sizeof(*s));
		return -err;
	}
	if (n > 0 && s->key[n - 1] == '\n')
		n--;
	if (n < MQR_SECRET_MIN) {
		snprintf(why, why_len, "%s: a secret needs at least %d bytes",
			 path, MQR_SECRET_MIN);
		memset(s, 0, sizeof(*s));
		return -EINVAL;
	}
	s->len = n;
	return 0;
}

int mqr_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -ETIMEDOUT;
		return -errno;
	}
	return 0;
}

int mqr_writev_full(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iovcnt };
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		while (iovcnt && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

int mqr_send(int fd, uint16_t type, uint16_t flags, uint64_t seq,
	     const void *body, uint32_t len)
{
	struct mqr_hdr h = {
		.magic = MQR_MAGIC, .type = type, .flags = flags,
		.len = sizeof(h) + len, .seq = seq,
	};
	struct iovec iov[2] = {
		{ &h, sizeof(h) }, { (void *)body, len },
	};

	return mqr_writev_full(fd, iov, len ? 2 : 1);
}

bool mqr_hdr_ok(const struct mqr_hdr *h, uint32_t max_msg)
{
	return h->magic == MQR_MAGIC && h->type >= MQR_HELLO &&
	       h->type <= MQR_ERROR && !(h->flags & ~MQR_F_KNOWN) &&
	       h->len >= sizeof(*h) && h->len <= max_msg;
}

int mqr_recv_fixed(int fd, uint16_t type, void *body, uint32_t len,
		   int32_t *peer_error)
{
	struct mqr_hdr h;
	int ret;

	ret = mqr_read_full(fd, &h, sizeof(h));
	if (ret)
		return ret;
	if (!mqr_hdr_ok(&h, sizeof(h) + 1024))
		return -EPROTO;
	if (h.type == MQR_ERROR && h.len == sizeof(h) + sizeof(struct mqr_error)) {
		struct mqr_error e;

		ret = mqr_read_full(fd, &e, sizeof(e));
		if (ret)
			return ret;
		if (peer_error)
			*peer_error = e.error;
		return e.error < 0 && e.error > -4096 ? e.error : -EPROTO;
	}
	if (h.type != type || h.len != sizeof(h) + len)
		return -EPROTO;
	return mqr_read_full(fd, body, len);
}

void mqr_server_proof(const struct mqr_secret *s, uint16_t version,
		      uint32_t features, const uint8_t *cnonce,
		      const uint8_t *snonce, const uint8_t *session,
		      uint8_t *out)
{
	static const char label[] = "mqfuse-server";	/* with its NUL */
	struct mq_hmac h;

	mq_hmac_init(&h, s->key, s->len);
	mq_hmac_update(&h, label, sizeof(label));
	mq_hmac_update(&h, &version, sizeof(version));
	mq_hmac_update(&h, &features, sizeof(features));
	mq_hmac_update(&h, cnonce, MQR_NONCE_LEN);
	mq_hmac_update(&h, snonce, MQR_NONCE_LEN);
	mq_hmac_update(&h, session, MQR_SESSION_LEN);
	mq_hmac_final(&h, out);
}

void mqr_client_proof(const struct mqr_secret *s, const uint8_t *snonce,
		      const uint8_t *cnonce, const uint8_t *session,
		      uint32_t conn_index, uint8_t *out)
{
	static const char label[] = "mqfuse-client";
	struct mq_hmac h;

	mq_hmac_init(&h, s->key, s->len);
	mq_hmac_update(&h, label, sizeof(label));
	mq_hmac_update(&h, snonce, MQR_NONCE_LEN);
	mq_hmac_update(&h, cnonce, MQR_NONCE_LEN);
	mq_hmac_update(&h, session, MQR_SESSION_LEN);
	mq_hmac_update(&h, &conn_index, sizeof(conn_index));
	mq_hmac_final(&h, out);
}

int mqr_resolve(const char *hostport, bool passive,
		struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = passive ? AI_PASSIVE : 0,
	}, *res;
	char host[256], port[16];
	const char *colon, *h = hostport;
	size_t hl;
	int ret;

	if (*h == '[') {
		const char *end = strchr(h, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		hl = end - h - 1;
		h++;
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strrchr(h, ':');
		hl = colon ? (size_t)(colon - h) : strlen(h);
	}
	if (!hl || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (colon) {
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);

		/* port 0: any free one (a listener that tells it: --ready-file) */
		if (!colon[1] || *end || (!p && !passive) || p > 65535)
			return -EINVAL;
		snprintf(port, sizeof(port), "%lu", p);
	} else {
		snprintf(port, sizeof(port), "%u", MQR_DEFAULT_PORT);
	}
	ret = getaddrinfo(passive && !strcmp(host, "*") ? NULL : host, port,
			  &hints, &res);
	if (ret)
		return ret == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const char *mqr_addr_str(const struct sockaddr_storage *ss, char *buf,
			 size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

void mqr_tcp_liveness(int fd)
{
	int one = 1, idle = 10, intvl = 5, cnt = 3;
	unsigned int user_ms = 60000;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
}

static int mqr_connect_timeout(int fd, const struct sockaddr_storage *ss,
			       socklen_t sslen, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int flags = fcntl(fd, F_GETFL), err = 0;
	socklen_t el = sizeof(err);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK))
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, sslen)) {
		if (errno != EINPROGRESS)
			return -errno;
		for (;;) {
			int n = poll(&p, 1, timeout_ms);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (!n)
				return -ETIMEDOUT;
			break;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
			return -errno;
		if (err)
			return -err;
	}
	return fcntl(fd, F_SETFL, flags) ? -errno : 0;
}

int mqr_client_connect(const struct sockaddr_storage *ss, socklen_t sslen,
		       const struct mqr_secret *s, const uint8_t *session,
		       uint32_t conn_index, uint32_t features, int timeout_ms,
		       struct mqr_welcome *welcome)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct mqr_hello hello = {
		.version_min = MQR_VERSION, .version_max = MQR_VERSION,
		.conn_index = conn_index, .features = features,
	};
	struct mqr_challenge ch;
	struct mqr_auth auth;
	uint8_t want[MQR_MAC_LEN];
	int fd, ret;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = mqr_connect_timeout(fd, ss, sslen, timeout_ms);
	if (ret)
		goto fail;
	mqr_tcp_liveness(fd);
	/* the handshake's answers must come in time; later, no limit */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memcpy(hello.session, session, MQR_SESSION_LEN);
	ret = mq_random_bytes(hello.nonce, sizeof(hello.nonce));
	if (!ret)
		ret = mqr_send(fd, MQR_HELLO, 0, 0, &hello, sizeof(hello));
	if (!ret)
		ret = mqr_recv_fixed(fd, MQR_CHALLENGE, &ch, sizeof(ch), NULL);
	if (ret)
		goto fail;
	if (ch.version != MQR_VERSION || (ch.features & ~hello.features)) {
		ret = -EPROTO;
		goto fail;
	}
	if (ch.features != features) {
		ret = -EPROTONOSUPPORT;
		goto fail;
	}
	mqr_server_proof(s, ch.version, ch.features, hello.nonce, ch.nonce,
			 session, want);
	if (mq_ct_memcmp(want, ch.proof, sizeof(want))) {
		ret = -EPERM;
		goto fail;
	}
	mqr_client_proof(s, ch.nonce, hello.nonce, session, conn_index,
			 auth.proof);
	ret = mqr_send(fd, MQR_AUTH, 0, 0, &auth, sizeof(auth));
	if (!ret)
		ret = mqr_recv_fixed(fd, MQR_WELCOME, welcome, sizeof(*welcome),
				     NULL);
	if (ret)
		goto fail;
	if (welcome->max_msg < MQR_MAX_MSG) {
		ret = -EPROTO;
		goto fail;
	}
	memset(&tv, 0, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	close(fd);
	return ret;
}
