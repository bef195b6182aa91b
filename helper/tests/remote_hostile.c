// SPDX-License-Identifier: GPL-2.0
/*
 * remote_hostile HOST:PORT SECRET_FILE WRONG_SECRET_FILE [FUZZ_FRAMES [DIR]]
 *
 * DIR (the directory the server serves): also a client that stops
 * reading its replies for a while must get every byte right afterwards.
 *
 * A hostile client of mqfuse-server (remote protocol, ../remote/proto.h):
 * garbage and malformed handshakes, a wrong secret, malformed frames
 * after a good handshake, hostile FUSE requests and random frames.  After
 * every attack a well-behaved connection of the same session must still
 * be served (the server is alive and its worker too).  Also checks the
 * client side: a server that does not know the secret is not trusted.
 * Prints "ok N - ..." / "not ok N - ..." and "# remote_hostile: P passed,
 * F failed"; exits 1 if anything failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/fuse.h>

#include "mqcrypto.h"
#include "wire.h"

static int passed, failed, nr;
static struct sockaddr_storage srv;
static socklen_t srv_len;
static struct mqr_secret good, bad;
static uint8_t session[MQR_SESSION_LEN];
static uint64_t next_unique = 1000;
/* Held from start to end: the session's worker stays (it lingers only
 * for a while without connections). */
static int keeper = -1;

static void check(int cond, const char *what)
{
	nr++;
	if (cond)
		passed++;
	else
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", nr, what);
	fflush(stdout);
}

static int raw_connect(void)
{
	int fd = socket(srv.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 10, 0 };

	if (fd < 0 || connect(fd, (struct sockaddr *)&srv, srv_len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The server closed @fd (EOF or reset) within 10 s, maybe after an ERROR. */
static int closed_by_server(int fd, int32_t *error)
{
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (n > 0) {
			got += n;
			if (got == sizeof(buf))
				got = 0;
			continue;
		}
		break;
	}
	if (error && got >= sizeof(struct mqr_hdr) + sizeof(struct mqr_error)) {
		const struct mqr_hdr *h = (const void *)buf;
		const struct mqr_error *e = (const void *)(h + 1);

		*error = h->type == MQR_ERROR ? e->error : 0;
	}
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* A good connection of our session; -1 if the server does not take it. */
static int good_connect(uint32_t index)
{
	struct mqr_welcome w;

	return mqr_client_connect(&srv, srv_len, &good, session, index, 0, 5000,
				  &w);
}

static int send_req(int fd, const void *req, size_t len, uint32_t ngroups)
{
	struct mqr_hdr h = { .magic = MQR_MAGIC, .type = MQR_REQ,
			     .len = sizeof(h) + sizeof(struct mqr_req) +
				    ngroups * 4 + len,
			     .seq = ((const struct fuse_in_header *)req)->unique };
	struct mqr_req r = { .ngroups = ngroups };
	uint32_t groups[MQR_MAX_GROUPS] = { 0 };
	struct iovec iov[4] = {
		{ &h, sizeof(h) }, { &r, sizeof(r) },
		{ groups, ngroups * 4 }, { (void *)req, len },
	};

	return mqr_writev_full(fd, iov, 4);
}

/* Wait for the reply to @unique: its error (<= 0), or 1 if none came. */
static int wait_reply(int fd, uint64_t unique, void *out, size_t out_len)
{
	static char buf[MQR_MAX_MSG];
	struct mqr_hdr h;

	for (;;) {
		const struct fuse_out_header *oh = (const void *)buf;

		if (mqr_read_full(fd, &h, sizeof(h)) || !mqr_hdr_ok(&h, MQR_MAX_MSG) ||
		    h.type != MQR_REPLY || h.len < sizeof(h) + sizeof(*oh) ||
		    mqr_read_full(fd, buf, h.len - sizeof(h)))
			return 1;
		if (oh->len != h.len - sizeof(h) || oh->unique != h.seq ||
		    oh->error > 0 || oh->error < -4095)
			return 1;
		if (oh->unique != unique)
			continue;
		if (out)
			memcpy(out, buf, oh->len < out_len ? oh->len : out_len);
		return oh->error;
	}
}

static int do_init(int fd)
{
	struct {
		struct fuse_in_header in;
		struct fuse_init_in ii;
	} req = {
		.in = { .len = sizeof(req), .opcode = FUSE_INIT,
			.unique = next_unique++ },
		.ii = { .major = 7, .minor = 31, .max_readahead = 65536 },
	};

	if (send_req(fd, &req, sizeof(req), 0))
		return 1;
	return wait_reply(fd, req.in.unique, NULL, 0);
}

/* GETATTR of the root on a fresh good connection answers. */
static int served(void)
{
	struct {
		struct fuse_in_header in;
		struct fuse_getattr_in gi;
	} req = { .in = { .len = sizeof(req), .opcode = FUSE_GETATTR,
			  .unique = next_unique++, .nodeid = FUSE_ROOT_ID } };
	int fd = good_connect(99), ret;

	if (fd < 0)
		return 0;
	ret = !send_req(fd, &req, sizeof(req), 0) &&
	      wait_reply(fd, req.in.unique, NULL, 0) == 0;
	close(fd);
	return ret;
}

static void raw_attack(const char *what, const void *buf, size_t len)
{
	int fd = raw_connect();
	char name[160];

	if (fd < 0) {
		check(0, what);
		return;
	}
	if (len && send(fd, buf, len, MSG_NOSIGNAL) < 0) {
		check(0, what);
		close(fd);
		return;
	}
	snprintf(name, sizeof(name), "%s: connection closed by the server", what);
	check(closed_by_server(fd, NULL), name);
	close(fd);
	snprintf(name, sizeof(name), "%s: the server still serves", what);
	check(served(), name);
}

/* A good handshake, then @frame (raw bytes): the connection is dropped. */
static void frame_attack(const char *what, const void *frame, size_t len)
{
	int fd = good_connect(7);
	char name[160];

	snprintf(name, sizeof(name), "%s: dropped", what);
	if (fd < 0) {
		check(0, name);
		return;
	}
	if (send(fd, frame, len, MSG_NOSIGNAL) < 0) {
		check(0, name);
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	check(closed_by_server(fd, NULL), name);
	close(fd);
	snprintf(name, sizeof(name), "%s: the session is still served", what);
	check(served(), name);
}

static void *fake_server(void *arg)
{
	int lfd = *(int *)arg, fd;
	struct { struct mqr_hdr h; struct mqr_hello b; } hello;
	struct mqr_challenge ch = { .version = MQR_VERSION };

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (!mqr_read_full(fd, &hello, sizeof(hello))) {
		mq_random_bytes(ch.nonce, sizeof(ch.nonce));
		/* proves the wrong secret */
		mqr_server_proof(&bad, ch.version, 0, hello.b.nonce, ch.nonce,
				 hello.b.session, ch.proof);
		mqr_send(fd, MQR_CHALLENGE, 0, 0, &ch, sizeof(ch));
		sleep(1);
	}
	close(fd);
	return NULL;
}

/* The byte at offset @off of the pattern file. */
static unsigned char pattern_byte(size_t off)
{
	return (off * 7 + off / 4093 + 13) & 0xff;
}

/*
 * 24 READs of 1 MiB sent at once, then 4 s without reading: the server
 * blocks on its sends.  Then every reply must come, whole and right: a
 * send the server gave up on half-way would leave a cut reply in the
 * stream (or corrupt data that passes the framing checks).
 */
static void slow_reader(const char *dir)
{
	enum { NR = 24, SZ = 1 << 20 };
	static unsigned char buf[SZ];
	char path[512];
	struct {
		struct fuse_in_header in;
		char name[16];
	} lk = { .in = { .len = sizeof(struct fuse_in_header) + 12,
			 .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID },
		 .name = "pattern.bin" };
	struct {
		struct fuse_in_header in;
		struct fuse_open_in oi;
	} op = { .in = { .len = sizeof(op), .opcode = FUSE_OPEN },
		 .oi = { .flags = O_RDONLY } };
	struct {
		struct fuse_out_header oh;
		struct fuse_entry_out eo;
	} ent;
	struct {
		struct fuse_out_header oh;
		struct fuse_open_out oo;
	} opened;
	FILE *f;
	size_t i;
	int fd, bad = 0, got = 0, n;

	snprintf(path, sizeof(path), "%s/pattern.bin", dir);
	f = fopen(path, "w");
	for (i = 0; f && i < (size_t)NR * SZ; i++)
		fputc(pattern_byte(i), f);
	if (!f || fclose(f)) {
		check(0, "slow reader: pattern file written in the served directory");
		return;
	}
	fd = good_connect(3);
	lk.in.unique = next_unique++;
	if (fd < 0 || send_req(fd, &lk, lk.in.len, 0) ||
	    wait_reply(fd, lk.in.unique, &ent, sizeof(ent))) {
		check(0, "slow reader: LOOKUP pattern.bin");
		goto out;
	}
	op.in.nodeid = ent.eo.nodeid;
	op.in.unique = next_unique++;
	if (send_req(fd, &op, sizeof(op), 0) ||
	    wait_reply(fd, op.in.unique, &opened, sizeof(opened))) {
		check(0, "slow reader: OPEN pattern.bin");
		goto out;
	}
	for (n = 0; n < NR; n++) {
		struct {
			struct fuse_in_header in;
			struct fuse_read_in ri;
		} rd = { .in = { .len = sizeof(rd), .opcode = FUSE_READ,
				 .nodeid = ent.eo.nodeid,
				 .unique = 1000000 + n },
			 .ri = { .fh = opened.oo.fh, .offset = (uint64_t)n * SZ,
				 .size = SZ } };

		if (send_req(fd, &rd, sizeof(rd), 0))
			break;
	}
	sleep(4);
	for (n = 0; n < NR; n++) {
		struct mqr_hdr h;
		struct fuse_out_header oh;

		if (mqr_read_full(fd, &h, sizeof(h)) || h.magic != MQR_MAGIC ||
		    h.type != MQR_REPLY || h.len != sizeof(h) + sizeof(oh) + SZ ||
		    mqr_read_full(fd, &oh, sizeof(oh)) || oh.error ||
		    oh.unique < 1000000 || oh.unique >= 1000000 + NR ||
		    mqr_read_full(fd, buf, SZ))
			break;
		got++;
		for (i = 0; i < SZ; i++)
			if (buf[i] != pattern_byte((oh.unique - 1000000) * SZ + i)) {
				bad++;
				break;
			}
	}
	check(got == NR && !bad,
	      "slow reader: 24 x 1 MiB READ replies, after 4 s unread, all whole and right");
	if (got != NR || bad)
		printf("# got %d of %d replies, %d with wrong data\n", got, NR, bad);
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static void client_side(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	struct mqr_welcome w;
	pthread_t t;
	int lfd, ret;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&sin, &sl) ||
	    pthread_create(&t, NULL, fake_server, &lfd)) {
		check(0, "client: a server proving another secret is refused (setup)");
		return;
	}
	ret = mqr_client_connect((struct sockaddr_storage *)&sin, sizeof(sin),
				 &good, session, 0, 0, 5000, &w);
	check(ret == -EPERM, "client: a server proving another secret is not trusted (EPERM)");
	pthread_join(t, NULL);
	close(lfd);
}

int main(int argc, char **argv)
{
	char why[256], big[256];
	struct mqr_hdr h;
	unsigned long frames = argc > 4 ? strtoul(argv[4], NULL, 0) : 2000;
	unsigned long i;
	int32_t err = 0;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: %s HOST:PORT SECRET_FILE WRONG_SECRET_FILE [FRAMES]\n",
			argv[0]);
		return 2;
	}
	if (mqr_resolve(argv[1], false, &srv, &srv_len) ||
	    mqr_secret_load(argv[2], &good, why, sizeof(why)) ||
	    mqr_secret_load(argv[3], &bad, why, sizeof(why))) {
		fprintf(stderr, "remote_hostile: setup: %s\n", why);
		return 2;
	}
	mq_random_bytes(session, sizeof(session));
	srandom(getpid());

	/* A session to attack: INIT it. */
	keeper = good_connect(0);
	check(keeper >= 0, "a good client connects");
	check(keeper >= 0 && do_init(keeper) == 0, "INIT answered");
	check(served(), "GETATTR of the root answered");

	/* Before authentication. */
	memset(big, 0x41, sizeof(big));
	raw_attack("garbage instead of HELLO", big, sizeof(big));
	h = (struct mqr_hdr){ .magic = MQR_MAGIC, .type = MQR_HELLO,
			      .len = 0xffffffff };
	raw_attack("HELLO of length 4 GiB", &h, sizeof(h));
	h = (struct mqr_hdr){ .magic = MQR_MAGIC, .type = MQR_REQ,
			      .len = sizeof(h) + 64 };
	raw_attack("a REQ before the handshake", big, 0);
	{
		int s = raw_connect();

		if (s >= 0) {
			send(s, &h, sizeof(h), MSG_NOSIGNAL);
			check(closed_by_server(s, NULL), "a REQ before the handshake: closed");
			close(s);
		}
	}
	raw_attack("a connection that says nothing (handshake timeout)", NULL, 0);
	{
		struct mqr_welcome w;
		int ret = mqr_client_connect(&srv, srv_len, &bad, session, 0,
					     0, 5000, &w);

		check(ret == -EPERM || ret == -EACCES,
		      "wrong secret: refused (the server's proof does not verify, or ERROR EACCES)");
	}
	{
		/* The server's side: answer its challenge with a proof made with another secret. */
		struct { struct mqr_hdr h; struct mqr_hello b; } hello = {
			.h = { .magic = MQR_MAGIC, .type = MQR_HELLO,
			       .len = sizeof(hello) },
			.b = { .version_min = 1, .version_max = 1 },
		};
		struct mqr_challenge ch;
		struct mqr_auth auth;
		int s = raw_connect();

		mq_random_bytes(hello.b.nonce, sizeof(hello.b.nonce));
		memcpy(hello.b.session, session, sizeof(session));
		if (s >= 0 && send(s, &hello, sizeof(hello), MSG_NOSIGNAL) > 0 &&
		    !mqr_recv_fixed(s, MQR_CHALLENGE, &ch, sizeof(ch), NULL)) {
			mqr_client_proof(&bad, ch.nonce, hello.b.nonce, session,
					 0, auth.proof);
			mqr_send(s, MQR_AUTH, 0, 0, &auth, sizeof(auth));
			err = 0;
			check(closed_by_server(s, &err) && err == -EACCES,
			      "a proof made with another secret: ERROR EACCES, closed");
		} else {
			check(0, "a proof made with another secret: ERROR EACCES, closed");
		}
		if (s >= 0)
			close(s);
		check(served(), "after the wrong secrets, the session is still served");
	}

	/* After authentication: frames that break the rules. */
	{
		struct {
			struct mqr_hdr h;
			struct mqr_req r;
			struct fuse_in_header in;
		} f = {
			.h = { .magic = MQR_MAGIC, .type = MQR_REQ,
			       .len = sizeof(f), .seq = 5 },
			.in = { .len = sizeof(struct fuse_in_header),
				.opcode = FUSE_GETATTR, .unique = 5,
				.nodeid = 1 },
		};
		typeof(f) g;

		g = f; g.h.magic = 0x12345678;
		frame_attack("bad magic", &g, sizeof(g));
		g = f; g.h.type = MQR_REPLY;
		frame_attack("a REPLY from the client", &g, sizeof(g));
		g = f; g.h.type = 99;
		frame_attack("unknown message type", &g, sizeof(g));
		g = f; g.h.len = MQR_MAX_MSG + 1;
		frame_attack("length over the maximum", &g, sizeof(g));
		g = f; g.h.len = sizeof(struct mqr_hdr) + 4;
		frame_attack("length under a request", &g, sizeof(g));
		g = f; g.r.ngroups = 100000;
		frame_attack("100000 groups", &g, sizeof(g));
		g = f; g.r.ngroups = 1;
		frame_attack("groups that eat the request", &g, sizeof(g));
		g = f; g.h.seq = 6;
		frame_attack("seq not the request's unique", &g, sizeof(g));
		g = f; g.h.flags = 0x8000;
		frame_attack("unknown flags", &g, sizeof(g));
		g = f; g.h.len = sizeof(g) + 100;
		frame_attack("a frame cut short", &g, sizeof(g));
	}

	/* Checksums agreed: a frame whose CRC32C is wrong is dropped. */
	{
		struct mqr_welcome w;
		struct {
			struct mqr_hdr h;
			struct mqr_req r;
			struct fuse_in_header in;
			struct fuse_getattr_in gi;
		} f = {
			.h = { .magic = MQR_MAGIC, .type = MQR_REQ,
			       .len = sizeof(f) },
			.in = { .len = sizeof(struct fuse_in_header) +
				       sizeof(struct fuse_getattr_in),
				.opcode = FUSE_GETATTR, .nodeid = 1 },
		};
		int s = mqr_client_connect(&srv, srv_len, &good, session, 5,
					   MQR_FEAT_CRC32C, 5000, &w);

		check(s >= 0, "checksums: the server agrees to CRC32C");
		if (s >= 0) {
			f.in.unique = f.h.seq = next_unique++;
			f.h.crc = mqr_body_crc(0, &f.r, sizeof(f) - sizeof(f.h));
			check(send(s, &f, sizeof(f), MSG_NOSIGNAL) == sizeof(f) &&
			      wait_reply(s, f.in.unique, NULL, 0) == 0,
			      "checksums: a frame with the right CRC32C is answered");
			f.in.unique = f.h.seq = next_unique++;
			f.h.crc ^= 1;	/* and the body no longer matches anyway */
			send(s, &f, sizeof(f), MSG_NOSIGNAL);
			shutdown(s, SHUT_WR);
			check(closed_by_server(s, NULL),
			      "checksums: a frame with a wrong CRC32C: dropped");
			close(s);
		}
		check(served(), "after the bad checksum, the session is still served");
	}

	/* Well-formed frames, hostile FUSE requests: answered with errors. */
	fd = good_connect(1);
	if (fd >= 0) {
		struct {
			struct fuse_in_header in;
			char name[8];
		} lk = { .in = { .len = sizeof(struct fuse_in_header) + 3,
				 .opcode = FUSE_LOOKUP, .nodeid = FUSE_ROOT_ID },
			 .name = ".." };
		struct {
			struct fuse_in_header in;
			struct fuse_read_in ri;
		} rd = { .in = { .len = sizeof(rd), .opcode = FUSE_READ,
				 .nodeid = 0xdeadbeef },
			 .ri = { .fh = 12345, .size = 0xffffffff } };
		struct {
			struct fuse_in_header in;
			char name[8];
		} lk2 = { .in = { .len = sizeof(struct fuse_in_header) + 6,
				  .opcode = FUSE_LOOKUP, .nodeid = 77777 },
			  .name = "a/../" };
		struct {
			struct fuse_out_header oh;
			struct fuse_entry_out eo;
		} ent;
		int r;

		lk.in.unique = next_unique++;
		r = send_req(fd, &lk, lk.in.len, 0) ? 1 :
		    wait_reply(fd, lk.in.unique, &ent, sizeof(ent));
		check(r < 0 || (r == 0 && ent.eo.nodeid == FUSE_ROOT_ID),
		      "LOOKUP .. of the root: an error or the root itself");
		rd.in.unique = next_unique++;
		r = send_req(fd, &rd, rd.in.len, 0) ? 1 :
		    wait_reply(fd, rd.in.unique, NULL, 0);
		check(r < 0, "READ of an unknown node and handle, 4 GiB: an error");
		lk2.in.unique = next_unique++;
		r = send_req(fd, &lk2, lk2.in.len, 0) ? 1 :
		    wait_reply(fd, lk2.in.unique, NULL, 0);
		check(r < 0, "LOOKUP of 'a/../' under an unknown node: an error");
		close(fd);
	} else {
		check(0, "hostile FUSE requests: connect");
	}

	/* Random frames: well-formed headers, random FUSE requests. */
	fd = good_connect(2);
	if (fd >= 0) {
		static char req[8192];
		unsigned long sent = 0;

		for (i = 0; i < frames; i++) {
			struct fuse_in_header *in = (void *)req;
			size_t len = sizeof(*in) + random() % 512;
			size_t j;

			for (j = 0; j < len; j++)
				req[j] = random();
			in->len = len;
			in->unique = next_unique++;
			in->opcode = random() % 60;
			if (in->opcode == FUSE_DESTROY || in->opcode == FUSE_INIT)
				in->opcode = FUSE_GETATTR;
			in->nodeid = random() % 4 ? (uint64_t)(random() % 64) : (uint64_t)random() << 32;
			in->uid = random() % 3 ? 0 : random();
			in->gid = random() % 3 ? 0 : random();
			if (send_req(fd, req, len, random() % 4))
				break;
			sent++;
		}
		check(sent == frames, "random FUSE requests sent");
		shutdown(fd, SHUT_WR);
		closed_by_server(fd, NULL);
		close(fd);
		check(served(), "after random FUSE requests, the session is still served");
	} else {
		check(0, "random frames: connect");
	}

	if (argc > 5)
		slow_reader(argv[5]);
	client_side();
	if (keeper >= 0)
		close(keeper);
	printf("# remote_hostile: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
