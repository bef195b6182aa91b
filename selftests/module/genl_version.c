// SPDX-License-Identifier: GPL-2.0
/*
 * genl_version FAMILY: resolve a generic-netlink family by name and ask it
 * for MQFUSE_CMD_GET_VERSION; prints "gen=N version=x.y.z". Raw netlink, no
 * libnl, so it runs anywhere.
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

struct nlreq {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char attrs[256];
};

static int nl_talk(int fd, struct nlreq *req, char *buf, size_t len)
{
	ssize_t n;

	if (send(fd, req, req->nh.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, len, 0);
	if (n < 0)
		return -errno;
	if (((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(buf);

		return e->error ? e->error : -EPROTO;
	}
	return (int)n;
}

/* Walk the attributes of a generic-netlink reply. */
static struct nlattr *find_attr(char *buf, int type)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	char *p = (char *)NLMSG_DATA(nh) + GENL_HDRLEN;
	char *end = buf + nh->nlmsg_len;

	while (p + NLA_HDRLEN <= end) {
		struct nlattr *a = (struct nlattr *)p;

		if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		p += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *family = argc > 1 ? argv[1] : MQFUSE_GENL_NAME;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char buf[8192];
	struct nlreq req;
	struct nlattr *a;
	__u16 id;
	int fd, n;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("netlink socket");
		return 1;
	}

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = GENL_ID_CTRL;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.gh.cmd = CTRL_CMD_GETFAMILY;
	req.gh.version = 1;
	a = (struct nlattr *)req.attrs;
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = NLA_HDRLEN + strlen(family) + 1;
	memcpy((char *)a + NLA_HDRLEN, family, strlen(family) + 1);
	req.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(a->nla_len);
	n = nl_talk(fd, &req, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, "family %s: %s\n", family, strerror(-n));
		return 1;
	}
	a = find_attr(buf, CTRL_ATTR_FAMILY_ID);
	if (!a)
		return 1;
	memcpy(&id, (char *)a + NLA_HDRLEN, sizeof(id));

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = id;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req.gh.cmd = MQFUSE_CMD_GET_VERSION;
	req.gh.version = MQFUSE_GENL_VERSION;
	n = nl_talk(fd, &req, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, "GET_VERSION: %s\n", strerror(-n));
		return 1;
	}
	a = find_attr(buf, MQFUSE_ATTR_GEN);
	if (!a)
		return 1;
	printf("gen=%u", *(__u32 *)((char *)a + NLA_HDRLEN));
	a = find_attr(buf, MQFUSE_ATTR_VERSION);
	if (!a)
		return 1;
	printf(" version=%s\n", (char *)a + NLA_HDRLEN);
	close(fd);
	return 0;
}
