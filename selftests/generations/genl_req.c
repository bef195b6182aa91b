// SPDX-License-Identifier: GPL-2.0
/*
 * genl_req FAMILY CMD [TYPE:KIND:VALUE ...]: send one request of command
 * CMD to the generic-netlink family FAMILY, with the attributes given
 * (attribute TYPE, KIND u8, u32 or u64), asking for an ack. CMD and TYPE
 * are numbers or the uapi/mqfuse.h names without their prefix (ABORT,
 * SESSION_ID...).
 * Raw netlink, so it can send what mqfusectl never would (a wrong
 * attribute length, a reply attribute, a missing one).
 *
 * Prints "errno=N msg=TEXT" for the kernel's answer (N = 0 for an ack,
 * TEXT the extended-ack message or empty) and, for a reply carrying
 * attributes, "reply NAME=LEN ..." before it (NAME as above or the
 * number). Exit 0 when an answer came,
 * 1 on a local failure, 2 on bad arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include "mqfuse.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct nlreq {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char attrs[1024];
};

struct name {
	const char *name;
	unsigned int value;
};

#define N(prefix, x)	{ #x, prefix##x }
static const struct name cmds[] = {
	N(MQFUSE_CMD_, GET_VERSION), N(MQFUSE_CMD_, GET_SESSION), N(MQFUSE_CMD_, ABORT),
	N(MQFUSE_CMD_, EVENT), N(MQFUSE_CMD_, SET_SESSION), { NULL, 0 },
};
static const struct name attrs[] = {
	N(MQFUSE_ATTR_, GEN), N(MQFUSE_ATTR_, SESSION_ID), N(MQFUSE_ATTR_, SESSION_STATE),
	N(MQFUSE_ATTR_, EVENT), N(MQFUSE_ATTR_, SESSION_DAEMON_PID),
	N(MQFUSE_ATTR_, SESSION_RECOVERY_S), N(MQFUSE_ATTR_, SESSION_RECOVERIES),
	N(MQFUSE_ATTR_, SESSION_REPLAYED), N(MQFUSE_ATTR_, SESSION_MAX_BACKGROUND),
	{ NULL, 0 },
};

static int lookup(const struct name *t, const char *s, unsigned int *v)
{
	char *end;

	for (; t->name; t++)
		if (!strcmp(t->name, s)) {
			*v = t->value;
			return 0;
		}
	*v = strtoul(s, &end, 0);
	return *s && !*end ? 0 : -1;
}

/* " NAME=LEN" (the payload length), NAME from attrs[] or the number. */
static void print_attr(unsigned int type, unsigned int len)
{
	const struct name *t;

	for (t = attrs; t->name; t++)
		if (t->value == type) {
			printf(" %s=%u", t->name, len);
			return;
		}
	printf(" %u=%u", type, len);
}

static size_t put_attr(struct nlreq *req, size_t off, unsigned int type,
		       const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(req->attrs + off);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(a->nla_len) - a->nla_len);
	return off + NLA_ALIGN(a->nla_len);
}

/* Attributes of a generic-netlink message, or of an error's TLVs. */
static struct nlattr *next_attr(char **p, char *end)
{
	struct nlattr *a = (struct nlattr *)*p;

	if (*p + NLA_HDRLEN > end || a->nla_len < NLA_HDRLEN || *p + a->nla_len > end)
		return NULL;
	*p += NLA_ALIGN(a->nla_len);
	return a;
}

static int resolve(int fd, const char *family)
{
	static char buf[16384];
	struct nlreq req;
	char *p, *end;
	size_t off;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = GENL_ID_CTRL;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.gh.cmd = CTRL_CMD_GETFAMILY;
	req.gh.version = 1;
	off = put_attr(&req, 0, CTRL_ATTR_FAMILY_NAME, family, strlen(family) + 1);
	req.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + off;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if (((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR)
		return -ENOENT;
	p = (char *)NLMSG_DATA(buf) + GENL_HDRLEN;
	end = buf + ((struct nlmsghdr *)buf)->nlmsg_len;
	for (struct nlattr *a; (a = next_attr(&p, end));)
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID)
			return *(__u16 *)((char *)a + NLA_HDRLEN);
	return -ENOENT;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char buf[65536];
	struct nlreq req;
	size_t off = 0;
	unsigned int cmd;
	int fd, id, one = 1, i;

	if (argc < 3 || lookup(cmds, argv[2], &cmd)) {
		fprintf(stderr, "usage: genl_req FAMILY CMD [TYPE:u8|u32|u64:VALUE ...]\n");
		return 2;
	}
	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("netlink socket");
		return 1;
	}
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	id = resolve(fd, argv[1]);
	if (id < 0) {
		fprintf(stderr, "family %s: %s\n", argv[1], strerror(-id));
		return 1;
	}

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = id;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.gh.cmd = cmd;
	req.gh.version = 1;
	for (i = 3; i < argc; i++) {
		unsigned long long v;
		char kind[8], tname[32];
		unsigned int type;
		__u8 v8;
		__u32 v32;
		__u64 v64;

		if (sscanf(argv[i], "%31[^:]:%7[^:]:%llu", tname, kind, &v) != 3 ||
		    lookup(attrs, tname, &type) || off + 16 > sizeof(req.attrs)) {
			fprintf(stderr, "bad attribute '%s'\n", argv[i]);
			return 2;
		}
		if (!strcmp(kind, "u8")) {
			v8 = v;
			off = put_attr(&req, off, type, &v8, sizeof(v8));
		} else if (!strcmp(kind, "u32")) {
			v32 = v;
			off = put_attr(&req, off, type, &v32, sizeof(v32));
		} else if (!strcmp(kind, "u64")) {
			v64 = v;
			off = put_attr(&req, off, type, &v64, sizeof(v64));
		} else {
			fprintf(stderr, "bad kind '%s'\n", kind);
			return 2;
		}
	}
	req.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + off;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		perror("send");
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;

		if (n < 0) {
			perror("recv");
			return 1;
		}
		for (; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			struct nlmsgerr *e = NLMSG_DATA(nh);
			char *p, *end = (char *)nh + nh->nlmsg_len;
			const char *msg = "";

			if (nh->nlmsg_type != NLMSG_ERROR) {
				printf("reply");
				p = (char *)NLMSG_DATA(nh) + GENL_HDRLEN;
				for (struct nlattr *a; (a = next_attr(&p, end));)
					print_attr(a->nla_type & NLA_TYPE_MASK,
						   a->nla_len - NLA_HDRLEN);
				printf("\n");
				continue;
			}
			p = (char *)(e + 1);
			if (!(nh->nlmsg_flags & NLM_F_CAPPED))
				p += e->msg.nlmsg_len - sizeof(e->msg);
			if (nh->nlmsg_flags & NLM_F_ACK_TLVS)
				for (struct nlattr *a; (a = next_attr(&p, end));)
					if (a->nla_type == NLMSGERR_ATTR_MSG)
						msg = (char *)a + NLA_HDRLEN;
			printf("errno=%d msg=%s\n", -e->error, msg);
			close(fd);
			return 0;
		}
	}
}
