// SPDX-License-Identifier: GPL-2.0
/*
 * remote_evil_server MODE SECRET_FILE PORT_FILE
 *
 * A malicious mqfuse-server for mqfused's tcp:// client: it knows the
 * secret (the handshake succeeds), then answers with what MODE says:
 *   biginit  the INIT (INTERNAL) reply is 1 MiB long
 *   garbage  every request gets 4 KiB of random bytes
 *   badlen   every request gets a REPLY whose FUSE length disagrees
 * Listens on 127.0.0.1, an ephemeral port written to PORT_FILE; serves
 * connections until killed.  mqfused must refuse what it gets without
 * crashing (the test checks how it ends).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/fuse.h>

#include "mqcrypto.h"
#include "wire.h"

static const char *mode;
static struct mqr_secret secret;

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	struct { struct mqr_hdr h; struct mqr_hello b; } hello;
	struct mqr_challenge ch = { .version = MQR_VERSION };
	struct mqr_auth auth;
	struct mqr_welcome w = { .flags = MQR_W_NEW_SESSION,
				 .max_msg = MQR_MAX_MSG };
	static char big[(1 << 20) + 64];
	char *req = malloc(MQR_MAX_MSG);

	if (!req || mqr_read_full(fd, &hello, sizeof(hello)))
		goto out;
	mq_random_bytes(ch.nonce, sizeof(ch.nonce));
	mqr_server_proof(&secret, ch.version, 0, hello.b.nonce, ch.nonce,
			 hello.b.session, ch.proof);
	if (mqr_send(fd, MQR_CHALLENGE, 0, 0, &ch, sizeof(ch)) ||
	    mqr_recv_fixed(fd, MQR_AUTH, &auth, sizeof(auth), NULL) ||
	    mqr_send(fd, MQR_WELCOME, 0, 0, &w, sizeof(w)))
		goto out;
	for (;;) {
		struct mqr_hdr h;
		struct fuse_out_header *oh = (void *)big;

		if (mqr_read_full(fd, &h, sizeof(h)) || h.len < sizeof(h) ||
		    h.len > MQR_MAX_MSG ||
		    mqr_read_full(fd, req, h.len - sizeof(h)))
			break;
		if (!strcmp(mode, "biginit")) {
			memset(big, 0, sizeof(big));
			oh->len = 1 << 20;
			oh->unique = h.seq;
			if (mqr_send(fd, MQR_REPLY, h.flags & MQR_F_INTERNAL,
				     h.seq, big, 1 << 20))
				break;
		} else if (!strcmp(mode, "garbage")) {
			mq_random_bytes(big, 4096);
			if (send(fd, big, 4096, MSG_NOSIGNAL) < 0)
				break;
		} else {	/* badlen */
			memset(big, 0, 64);
			oh->len = 4096;	/* the body is 16 bytes */
			oh->unique = h.seq;
			if (mqr_send(fd, MQR_REPLY, h.flags & MQR_F_INTERNAL,
				     h.seq, big, sizeof(*oh)))
				break;
		}
	}
out:
	free(req);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	char why[256];
	FILE *f;
	int lfd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s biginit|garbage|badlen SECRET_FILE PORT_FILE\n",
			argv[0]);
		return 2;
	}
	mode = argv[1];
	if (mqr_secret_load(argv[2], &secret, why, sizeof(why))) {
		fprintf(stderr, "%s\n", why);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 16) || getsockname(lfd, (struct sockaddr *)&sin, &sl))
		return 1;
	f = fopen(argv[3], "w");
	if (!f || fprintf(f, "127.0.0.1:%u\n", ntohs(sin.sin_port)) < 0 ||
	    fclose(f))
		return 1;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(long)fd))
			close(fd);
		else
			pthread_detach(t);
	}
}
