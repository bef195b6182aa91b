// SPDX-License-Identifier: GPL-2.0
/*
 * mqfusectl: the mqfuse control tool, over generic netlink (libnl-genl-3).
 *
 *   mqfusectl [--gen N] [--no-header] [--json] version
 *   mqfusectl [--gen N] [--no-header] [--json] sessions|list
 *   mqfusectl [--gen N] [--no-header] [--json] queues|stats SESSION
 *   mqfusectl [--no-header] [--json] generations
 *   mqfusectl [--gen N] abort SESSION
 *   mqfusectl [--gen N] set SESSION NAME=VALUE...
 *   mqfusectl [--gen N] [--no-header] [--json] [--count N] monitor
 *
 * Each generation N has its own family mqfuse_vN and sees only its own
 * sessions; without --gen the newest loaded generation is used, picked
 * the way mount.mqfuse and mqfused pick it (mq_find_generation()).
 * Output: one line per object, columns separated by one space, a header
 * line first unless --no-header; with --json, one JSON document (monitor:
 * one JSON object per line). Exit codes: see MQCTL_EXIT_* and
 * mqfusectl(8).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include <netlink/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include <mqfuse.h>

#include "mount_opts.h"

enum {
	MQCTL_EXIT_OK = 0,
	MQCTL_EXIT_ERROR = 1,		/* netlink or system error */
	MQCTL_EXIT_USAGE = 2,		/* bad arguments */
	MQCTL_EXIT_NOT_LOADED = 3,	/* no mqfuse generation is loaded */
	MQCTL_EXIT_NO_GEN = 4,		/* --gen N is not loaded */
	MQCTL_EXIT_NO_SESSION = 5,	/* no such session in that generation */
	MQCTL_EXIT_PERM = 6,		/* the kernel refused: not privileged */
};

#define MQCTL_MAX_GENS	64

/* One control connection: a socket talking to one generation's family. */
struct mqctl {
	int gen;			/* generation talked to */
	char family_name[32];		/* "mqfuse_v<gen>" */
	struct nl_sock *sk;		/* connected generic-netlink socket */
	int family;			/* resolved family id */
	int err;			/* -errno from the kernel's error reply */
	char errmsg[256];		/* its extended-ack message, if any */
	bool done;			/* ack or end of dump seen */
	bool intr;			/* a dump message had NLM_F_DUMP_INTR */
};

struct mqctl_queue {
	uint32_t index;
	uint64_t requests, forgets, bytes_in, bytes_out, wait_ns, stolen,
		 interrupts, errors, bg_waits, ring_batches, ring_requests;
	uint32_t pending, in_daemon, background, max_background, in_daemon_max;
};

struct mqctl_session {
	uint64_t id;
	uint32_t state, dev_major, dev_minor, nr_queues, max_write, max_read,
		 max_pages, readdir_size, max_background, minor, daemons, waiting,
		 daemon_pid, recovery_s, recoveries;
	uint64_t replayed;
	uint8_t balance;
	char consistency[32];
	char transport[32];
	struct mqctl_queue *queues;	/* as received; a dump may split them */
	unsigned int nr_seen;
	unsigned int nr_msgs;		/* messages that carried it */
};

struct mqctl_sessions {
	struct mqctl_session *v;
	size_t n;
	int err;			/* -ENOMEM, -EPROTO while parsing */
};

static const char *mqctl_prog = "mqfusectl";
static bool mqctl_no_header;
static bool mqctl_json;

static void mqctl_usage(FILE *f)
{
	fprintf(f,
"Usage: mqfusectl [--gen N] [--no-header] [--json] COMMAND\n"
"  version          generation and release of the module\n"
"  sessions, list   one line per session (mount) of the generation\n"
"  queues SESSION, stats SESSION\n"
"                   per-queue counters of session SESSION (its id)\n"
"  generations      the loaded generations\n"
"  abort SESSION    abort the session: its requests fail ENOTCONN (root)\n"
"  set SESSION NAME=VALUE...\n"
"                   change tunables (root): max_background=1..256,\n"
"                   recovery=1..86400 (seconds; recovery= mounts only)\n"
"  monitor          print session events as they happen, one per line;\n"
"                   --count N: exit after N events\n"
"--gen N talks to generation N (mqfuse_vN); default: the newest loaded.\n"
"--json prints JSON (monitor: one object per line).\n"
"Exit: 0 ok, 1 error, 2 bad arguments, 3 no mqfuse loaded,\n"
"      4 generation not loaded, 5 no such session, 6 not permitted.\n");
}

static int mqctl_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", mqctl_prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	mqctl_usage(stderr);
	return MQCTL_EXIT_USAGE;
}

/* ---- netlink plumbing ---- */

/* NLMSGERR_ATTR_MSG of extended-ack TLVs at @tlvs into c->errmsg. */
static void mqctl_ext_ack(struct mqctl *c, void *tlvs, int len)
{
	struct nlattr *a;
	int rem;

	nla_for_each_attr(a, (struct nlattr *)tlvs, len, rem) {
		if (nla_type(a) == NLMSGERR_ATTR_MSG && nla_len(a) > 0)
			snprintf(c->errmsg, sizeof(c->errmsg), "%.*s",
				 (int)strnlen(nla_data(a), nla_len(a)), (char *)nla_data(a));
	}
}

/* The kernel's error reply: errno and the extended-ack message. */
static int mqctl_error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)e - 1;
	struct mqctl *c = arg;
	size_t hlen = sizeof(*e);

	(void)nla;
	c->err = e->error;
	c->done = true;
	c->errmsg[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	/* the request is echoed unless capped; the TLVs follow it */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += e->msg.nlmsg_len - sizeof(e->msg);
	if (nlh->nlmsg_len < NLMSG_HDRLEN + hlen)
		return NL_STOP;
	mqctl_ext_ack(c, (char *)e + hlen, nlh->nlmsg_len - NLMSG_HDRLEN - hlen);
	return NL_STOP;
}

/*
 * End of a dump, or an ack. libnl does not look at NLMSG_DONE's payload:
 * a dump that failed in the kernel ends with a DONE carrying -errno (and
 * the extended-ack TLVs after it).
 */
static int mqctl_done_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct mqctl *c = arg;
	int32_t e;

	c->done = true;
	if (nlh->nlmsg_type != NLMSG_DONE || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(e))
		return NL_STOP;
	memcpy(&e, nlmsg_data(nlh), sizeof(e));
	if (e >= 0)
		return NL_STOP;
	c->err = e;
	c->errmsg[0] = '\0';
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
		mqctl_ext_ack(c, (char *)nlmsg_data(nlh) + NLMSG_ALIGN(sizeof(e)),
			      (int)nlh->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(e)));
	return NL_STOP;
}

/* A dump message flagged NLM_F_DUMP_INTR: read on, then start over. */
static int mqctl_intr_cb(struct nl_msg *msg, void *arg)
{
	struct mqctl *c = arg;

	(void)msg;
	c->intr = true;
	return NL_OK;
}

/*
 * Connect to generation @want (0: the newest loaded). Returns an exit
 * code; messages are printed here.
 */
static int mqctl_open(struct mqctl *c, int want)
{
	char loaded[128];
	int one = 1, gen, ret;

	memset(c, 0, sizeof(*c));
	gen = mq_find_generation("/proc/filesystems", want, NULL, 0, loaded,
				 sizeof(loaded));
	if (gen == -ENOENT && loaded[0]) {
		fprintf(stderr, "%s: --gen %d: mqfuse_v%d is not loaded (loaded: %s)\n",
			mqctl_prog, want, want, loaded);
		return MQCTL_EXIT_NO_GEN;
	}
	if (gen < 0 && gen != -ENODEV) {
		fprintf(stderr, "%s: /proc/filesystems: %s\n", mqctl_prog,
			strerror(-gen));
		return MQCTL_EXIT_ERROR;
	}
	if (gen < 0) {
		if (want)
			fprintf(stderr, "%s: --gen %d: mqfuse_v%d is not loaded (no mqfuse generation is)\n",
				mqctl_prog, want, want);
		else
			fprintf(stderr, "%s: no mqfuse generation is loaded (modprobe %s?)\n",
				mqctl_prog, MQFUSE_NAME);
		return MQCTL_EXIT_NOT_LOADED;
	}
	c->gen = gen;
	snprintf(c->family_name, sizeof(c->family_name), "mqfuse_v%d", gen);

	c->sk = nl_socket_alloc();
	if (!c->sk) {
		fprintf(stderr, "%s: out of memory\n", mqctl_prog);
		return MQCTL_EXIT_ERROR;
	}
	ret = genl_connect(c->sk);
	if (ret < 0) {
		fprintf(stderr, "%s: generic netlink: %s\n", mqctl_prog, nl_geterror(ret));
		return MQCTL_EXIT_ERROR;
	}
	/* replies carry every queue of a session: let libnl size its buffer */
	nl_socket_enable_msg_peek(c->sk);
	setsockopt(nl_socket_get_fd(c->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	c->family = genl_ctrl_resolve(c->sk, c->family_name);
	if (c->family < 0) {
		fprintf(stderr, "%s: netlink family %s: %s\n", mqctl_prog,
			c->family_name, nl_geterror(c->family));
		/* the filesystem is listed but the family is gone: unloading */
		if (c->family == -NLE_OBJ_NOTFOUND)
			return want ? MQCTL_EXIT_NO_GEN : MQCTL_EXIT_NOT_LOADED;
		return MQCTL_EXIT_ERROR;
	}
	nl_socket_modify_err_cb(c->sk, NL_CB_CUSTOM, mqctl_error_cb, c);
	nl_socket_modify_cb(c->sk, NL_CB_ACK, NL_CB_CUSTOM, mqctl_done_cb, c);
	nl_socket_modify_cb(c->sk, NL_CB_FINISH, NL_CB_CUSTOM, mqctl_done_cb, c);
	nl_socket_modify_cb(c->sk, NL_CB_DUMP_INTR, NL_CB_CUSTOM, mqctl_intr_cb, c);
	return MQCTL_EXIT_OK;
}

static void mqctl_close(struct mqctl *c)
{
	nl_socket_free(c->sk);
	c->sk = NULL;
}

/*
 * Send @cmd (a dump with @flags NLM_F_DUMP), optionally with a session
 * id, and feed every reply to @parse. Returns 0 or -errno (the kernel's,
 * with c->errmsg, or libnl's mapped to -EIO).
 */
/* SET_SESSION's tunables; type 0 ends the list. */
struct mqctl_tunable {
	int type;		/* MQFUSE_ATTR_SESSION_* */
	uint32_t value;
};

static int mqctl_request_set(struct mqctl *c, uint8_t cmd, int flags,
			     const uint64_t *session_id, const struct mqctl_tunable *set,
			     nl_recvmsg_msg_cb_t parse, void *arg)
{
	struct nl_msg *msg = nlmsg_alloc();
	int ret;

	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c->family, 0, flags, cmd,
			 MQFUSE_GENL_VERSION) ||
	    (session_id && nla_put_u64(msg, MQFUSE_ATTR_SESSION_ID, *session_id))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	for (; set && set->type; set++) {
		if (nla_put_u32(msg, set->type, set->value)) {
			nlmsg_free(msg);
			return -ENOMEM;
		}
	}
	nl_socket_modify_cb(c->sk, NL_CB_VALID, NL_CB_CUSTOM, parse, arg);
	c->err = 0;
	c->errmsg[0] = '\0';
	c->done = false;
	c->intr = false;
	ret = nl_send_auto(c->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		snprintf(c->errmsg, sizeof(c->errmsg), "%s", nl_geterror(ret));
		return -EIO;
	}
	while (!c->done) {
		ret = nl_recvmsgs_default(c->sk);
		if (ret < 0 && !c->err) {
			snprintf(c->errmsg, sizeof(c->errmsg), "%s", nl_geterror(ret));
			return -EIO;
		}
	}
	return c->err;
}

static int mqctl_request(struct mqctl *c, uint8_t cmd, int flags, const uint64_t *session_id,
			 nl_recvmsg_msg_cb_t parse, void *arg)
{
	return mqctl_request_set(c, cmd, flags, session_id, NULL, parse, arg);
}

static void mqctl_report(const struct mqctl *c, const char *what, int err)
{
	if (err == -EIO)	/* libnl's own failure, described in errmsg */
		fprintf(stderr, "%s: %s %s: %s\n", mqctl_prog, c->family_name, what,
			c->errmsg);
	else
		fprintf(stderr, "%s: %s %s: %s%s%s\n", mqctl_prog, c->family_name, what,
			strerror(-err), c->errmsg[0] ? ": " : "", c->errmsg);
}

/* ---- replies ---- */

/* Reply attributes: short ones and unterminated strings are refused. */
static struct nla_policy mqctl_policy[MQFUSE_ATTR_MAX + 1] = {
	[MQFUSE_ATTR_GEN]			= { .type = NLA_U32 },
	[MQFUSE_ATTR_VERSION]			= { .type = NLA_STRING },
	[MQFUSE_ATTR_SESSION_ID]		= { .type = NLA_U64 },
	[MQFUSE_ATTR_SESSION_STATE]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_DEV_MAJOR]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_DEV_MINOR]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_QUEUES]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_MAX_WRITE]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_MAX_READ]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_MAX_PAGES]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_READDIR_SIZE]	= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_MAX_BACKGROUND]	= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_MINOR]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_BALANCE]		= { .type = NLA_U8 },
	[MQFUSE_ATTR_SESSION_CONSISTENCY]	= { .type = NLA_STRING },
	[MQFUSE_ATTR_SESSION_TRANSPORT]		= { .type = NLA_STRING },
	[MQFUSE_ATTR_SESSION_DAEMONS]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_WAITING]		= { .type = NLA_U32 },
	[MQFUSE_ATTR_QUEUE]			= { .type = NLA_NESTED },
	[MQFUSE_ATTR_EVENT]			= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_DAEMON_PID]	= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_RECOVERY_S]	= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_RECOVERIES]	= { .type = NLA_U32 },
	[MQFUSE_ATTR_SESSION_REPLAYED]		= { .type = NLA_U64 },
};

static struct nla_policy mqctl_queue_policy[MQFUSE_QUEUE_ATTR_MAX + 1] = {
	[MQFUSE_QUEUE_ATTR_INDEX]		= { .type = NLA_U32 },
	[MQFUSE_QUEUE_ATTR_REQUESTS]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_FORGETS]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_BYTES_IN]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_BYTES_OUT]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_WAIT_NS]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_STOLEN]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_INTERRUPTS]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_ERRORS]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_BG_WAITS]		= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_PENDING]		= { .type = NLA_U32 },
	[MQFUSE_QUEUE_ATTR_IN_DAEMON]		= { .type = NLA_U32 },
	[MQFUSE_QUEUE_ATTR_BACKGROUND]		= { .type = NLA_U32 },
	[MQFUSE_QUEUE_ATTR_MAX_BACKGROUND]	= { .type = NLA_U32 },
	[MQFUSE_QUEUE_ATTR_IN_DAEMON_MAX]	= { .type = NLA_U32 },
	[MQFUSE_QUEUE_ATTR_RING_BATCHES]	= { .type = NLA_U64 },
	[MQFUSE_QUEUE_ATTR_RING_REQUESTS]	= { .type = NLA_U64 },
};

static uint32_t mqctl_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static uint64_t mqctl_u64(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u64(tb[type]) : 0;
}

static int mqctl_parse_queue(struct nlattr *nest, struct mqctl_queue *q)
{
	struct nlattr *tb[MQFUSE_QUEUE_ATTR_MAX + 1];

	if (nla_parse_nested(tb, MQFUSE_QUEUE_ATTR_MAX, nest, mqctl_queue_policy) ||
	    !tb[MQFUSE_QUEUE_ATTR_INDEX])
		return -EPROTO;
	q->index = nla_get_u32(tb[MQFUSE_QUEUE_ATTR_INDEX]);
	q->requests = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_REQUESTS);
	q->forgets = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_FORGETS);
	q->bytes_in = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_BYTES_IN);
	q->bytes_out = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_BYTES_OUT);
	q->wait_ns = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_WAIT_NS);
	q->stolen = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_STOLEN);
	q->interrupts = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_INTERRUPTS);
	q->errors = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_ERRORS);
	q->bg_waits = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_BG_WAITS);
	q->pending = mqctl_u32(tb, MQFUSE_QUEUE_ATTR_PENDING);
	q->in_daemon = mqctl_u32(tb, MQFUSE_QUEUE_ATTR_IN_DAEMON);
	q->background = mqctl_u32(tb, MQFUSE_QUEUE_ATTR_BACKGROUND);
	q->max_background = mqctl_u32(tb, MQFUSE_QUEUE_ATTR_MAX_BACKGROUND);
	q->in_daemon_max = mqctl_u32(tb, MQFUSE_QUEUE_ATTR_IN_DAEMON_MAX);
	q->ring_batches = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_RING_BATCHES);
	q->ring_requests = mqctl_u64(tb, MQFUSE_QUEUE_ATTR_RING_REQUESTS);
	return 0;
}

static void mqctl_string(struct nlattr **tb, int type, char *buf, size_t len)
{
	snprintf(buf, len, "%s", tb[type] ? nla_get_string(tb[type]) : "-");
}

/*
 * One GET_SESSION message. A dump continues a session that did not fit
 * one message in the next (same id, the remaining queues): merge them.
 */
static int mqctl_session_cb(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[MQFUSE_ATTR_MAX + 1], *a;
	struct mqctl_sessions *ss = arg;
	struct mqctl_session *s;
	uint64_t id;
	int rem;

	if (nla_parse(tb, MQFUSE_ATTR_MAX, genlmsg_attrdata(gh, 0),
		      genlmsg_attrlen(gh, 0), mqctl_policy) || !tb[MQFUSE_ATTR_SESSION_ID])
		goto bad;
	id = nla_get_u64(tb[MQFUSE_ATTR_SESSION_ID]);
	if (ss->n && ss->v[ss->n - 1].id == id) {
		s = &ss->v[ss->n - 1];
	} else {
		s = realloc(ss->v, (ss->n + 1) * sizeof(*s));
		if (!s)
			goto nomem;
		ss->v = s;
		s = &ss->v[ss->n++];
		memset(s, 0, sizeof(*s));
		s->id = id;
		s->state = mqctl_u32(tb, MQFUSE_ATTR_SESSION_STATE);
		s->dev_major = mqctl_u32(tb, MQFUSE_ATTR_SESSION_DEV_MAJOR);
		s->dev_minor = mqctl_u32(tb, MQFUSE_ATTR_SESSION_DEV_MINOR);
		s->nr_queues = mqctl_u32(tb, MQFUSE_ATTR_SESSION_QUEUES);
		s->max_write = mqctl_u32(tb, MQFUSE_ATTR_SESSION_MAX_WRITE);
		s->max_read = mqctl_u32(tb, MQFUSE_ATTR_SESSION_MAX_READ);
		s->max_pages = mqctl_u32(tb, MQFUSE_ATTR_SESSION_MAX_PAGES);
		s->readdir_size = mqctl_u32(tb, MQFUSE_ATTR_SESSION_READDIR_SIZE);
		s->max_background = mqctl_u32(tb, MQFUSE_ATTR_SESSION_MAX_BACKGROUND);
		s->minor = mqctl_u32(tb, MQFUSE_ATTR_SESSION_MINOR);
		s->daemons = mqctl_u32(tb, MQFUSE_ATTR_SESSION_DAEMONS);
		s->waiting = mqctl_u32(tb, MQFUSE_ATTR_SESSION_WAITING);
		s->daemon_pid = mqctl_u32(tb, MQFUSE_ATTR_SESSION_DAEMON_PID);
		s->recovery_s = mqctl_u32(tb, MQFUSE_ATTR_SESSION_RECOVERY_S);
		s->recoveries = mqctl_u32(tb, MQFUSE_ATTR_SESSION_RECOVERIES);
		s->replayed = mqctl_u64(tb, MQFUSE_ATTR_SESSION_REPLAYED);
		s->balance = tb[MQFUSE_ATTR_SESSION_BALANCE] ?
			     nla_get_u8(tb[MQFUSE_ATTR_SESSION_BALANCE]) : 0;
		mqctl_string(tb, MQFUSE_ATTR_SESSION_CONSISTENCY, s->consistency,
			     sizeof(s->consistency));
		mqctl_string(tb, MQFUSE_ATTR_SESSION_TRANSPORT, s->transport,
			     sizeof(s->transport));
		if (s->nr_queues > 65536)
			goto bad;
		s->queues = calloc(s->nr_queues ? s->nr_queues : 1, sizeof(*s->queues));
		if (!s->queues)
			goto nomem;
	}
	s->nr_msgs++;
	nla_for_each_attr(a, genlmsg_attrdata(gh, 0), genlmsg_attrlen(gh, 0), rem) {
		if (nla_type(a) != MQFUSE_ATTR_QUEUE)
			continue;
		if (s->nr_seen >= s->nr_queues ||
		    mqctl_parse_queue(a, &s->queues[s->nr_seen]) ||
		    s->queues[s->nr_seen].index != s->nr_seen)
			goto bad;
		s->nr_seen++;
	}
	/*
	 * MQFUSECTL_DEBUG_STALL=SECONDS (tests): wait once after the first
	 * part of a split session, so that a umount lands in the dump.
	 */
	if (s->nr_msgs == 1 && s->nr_seen < s->nr_queues) {
		static bool stalled;
		const char *stall = getenv("MQFUSECTL_DEBUG_STALL");

		if (stall && !stalled) {
			stalled = true;
			sleep(atoi(stall));
		}
	}
	return NL_OK;

bad:
	ss->err = -EPROTO;
	return NL_SKIP;
nomem:
	ss->err = -ENOMEM;
	return NL_SKIP;
}

static void mqctl_sessions_free(struct mqctl_sessions *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		free(ss->v[i].queues);
	free(ss->v);
}

static int mqctl_version_cb(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[MQFUSE_ATTR_MAX + 1];
	char *version = arg;

	if (nla_parse(tb, MQFUSE_ATTR_MAX, genlmsg_attrdata(gh, 0),
		      genlmsg_attrlen(gh, 0), mqctl_policy) || !tb[MQFUSE_ATTR_VERSION])
		return NL_SKIP;
	snprintf(version, 32, "%s", nla_get_string(tb[MQFUSE_ATTR_VERSION]));
	return NL_OK;
}

/* ---- commands ---- */

static const char *mqctl_state_name(uint32_t state)
{
	switch (state) {
	case MQFUSE_STATE_INIT:		return "init";
	case MQFUSE_STATE_RUNNING:	return "running";
	case MQFUSE_STATE_ABORTED:	return "aborted";
	case MQFUSE_STATE_ORPHANED:	return "orphaned";
	default:			return "unknown";
	}
}

static const char *mqctl_event_name(uint32_t event)
{
	switch (event) {
	case MQFUSE_EVENT_MOUNTED:	return "mounted";
	case MQFUSE_EVENT_RUNNING:	return "running";
	case MQFUSE_EVENT_ORPHANED:	return "orphaned";
	case MQFUSE_EVENT_RECOVERED:	return "recovered";
	case MQFUSE_EVENT_ABORTED:	return "aborted";
	case MQFUSE_EVENT_UNMOUNTED:	return "unmounted";
	default:			return "unknown";
	}
}

/* @s as a JSON string, quotes included. */
static void mqctl_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* Mount point of st_dev major:minor from mountinfo (escaped, one token), or "-". */
static void mqctl_mountpoint(uint32_t major, uint32_t minor, char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mnt = NULL, dev[32];
	size_t cap = 0, room = 0;

	snprintf(buf, len, "-");
	if (!f)
		return;
	snprintf(dev, sizeof(dev), "%u:%u", major, minor);
	while (getline(&line, &cap, f) > 0) {
		char d[32];

		if (cap > room) {	/* a field is never longer than its line */
			free(mnt);
			mnt = malloc(cap);
			if (!mnt)
				break;
			room = cap;
		}
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		if (sscanf(line, "%*s %*s %31s %*s %s", d, mnt) == 2 && !strcmp(d, dev)) {
			snprintf(buf, len, "%s", mnt);
			break;
		}
	}
	free(line);
	free(mnt);
	fclose(f);
}

static int mqctl_get_version(struct mqctl *c, char *version)
{
	snprintf(version, 32, "-");
	return mqctl_request(c, MQFUSE_CMD_GET_VERSION, 0, NULL, mqctl_version_cb, version);
}

static int mqctl_cmd_version(struct mqctl *c)
{
	char version[32];
	int err = mqctl_get_version(c, version);

	if (err) {
		mqctl_report(c, "GET_VERSION", err);
		return MQCTL_EXIT_ERROR;
	}
	if (mqctl_json) {
		printf("{\"name\":");
		mqctl_json_str(stdout, c->family_name);
		printf(",\"gen\":%d,\"version\":", c->gen);
		mqctl_json_str(stdout, version);
		printf("}\n");
		return MQCTL_EXIT_OK;
	}
	if (!mqctl_no_header)
		printf("NAME GEN VERSION\n");
	printf("%s %d %s\n", c->family_name, c->gen, version);
	return MQCTL_EXIT_OK;
}

/* Debugging aids for the selftests (not documented for users). */
static bool mqctl_debug(void)
{
	const char *v = getenv("MQFUSECTL_DEBUG");

	return v && *v && strcmp(v, "0");
}

static int mqctl_get_one(struct mqctl *c, uint64_t id, struct mqctl_sessions *ss);

/* Restarts of a dump interrupted by mounts and umounts, at most. */
#define MQCTL_DUMP_RETRIES	16

/*
 * Every session of the generation, each with all its queues. A dump
 * interrupted by a mount or umount (NLM_F_DUMP_INTR) starts over; when it
 * still is after MQCTL_DUMP_RETRIES restarts, a session reported in part
 * is asked for again alone and left out only if it is gone (-ENOENT).
 */
static int mqctl_dump_sessions(struct mqctl *c, struct mqctl_sessions *ss)
{
	const char *dbg_id = getenv("MQFUSECTL_DEBUG_DUMP_ID");
	uint64_t bad_id = dbg_id ? strtoull(dbg_id, NULL, 10) : 0;
	int attempt, err;
	size_t i, j;

	for (attempt = 0;; attempt++) {
		memset(ss, 0, sizeof(*ss));
		/* MQFUSECTL_DEBUG_DUMP_ID: a dump with SESSION_ID, which the kernel refuses */
		err = mqctl_request(c, MQFUSE_CMD_GET_SESSION, NLM_F_DUMP,
				    dbg_id ? &bad_id : NULL, mqctl_session_cb, ss);
		if (!err)
			err = ss->err;
		if (err || !c->intr || attempt == MQCTL_DUMP_RETRIES)
			break;
		mqctl_sessions_free(ss);
	}
	if (mqctl_debug()) {
		fprintf(stderr, "%s: debug: dump restarts %d%s\n", mqctl_prog, attempt,
			c->intr ? " (still interrupted)" : "");
		for (i = 0; i < ss->n; i++)
			fprintf(stderr, "%s: debug: session %" PRIu64 " messages %u queues %u/%u\n",
				mqctl_prog, ss->v[i].id, ss->v[i].nr_msgs, ss->v[i].nr_seen,
				ss->v[i].nr_queues);
	}
	for (i = 0, j = 0; !err && i < ss->n; i++) {
		struct mqctl_sessions one = { 0 };

		if (ss->v[i].nr_seen != ss->v[i].nr_queues) {
			/* cut short by a umount, or a bug: ask for it alone */
			err = mqctl_get_one(c, ss->v[i].id, &one);
			if (err == -ENOENT) {
				free(ss->v[i].queues);
				err = 0;
				continue;	/* gone: not listed */
			}
			if (err) {
				mqctl_sessions_free(&one);
				break;
			}
			free(ss->v[i].queues);
			ss->v[i] = one.v[0];
			free(one.v);
		}
		ss->v[j++] = ss->v[i];
	}
	if (!err)
		ss->n = j;
	if (err)
		mqctl_report(c, "GET_SESSION dump", err);
	return err;
}

static int mqctl_cmd_sessions(struct mqctl *c)
{
	struct mqctl_sessions ss;
	char mnt[4096];
	size_t i;

	if (mqctl_dump_sessions(c, &ss)) {
		mqctl_sessions_free(&ss);
		return MQCTL_EXIT_ERROR;
	}
	if (mqctl_json) {
		printf("[");
		for (i = 0; i < ss.n; i++) {
			struct mqctl_session *s = &ss.v[i];
			char path[4096];

			mqctl_mountpoint(s->dev_major, s->dev_minor, mnt, sizeof(mnt));
			mq_mountinfo_unescape(mnt, path, sizeof(path));
			printf("%s{\"id\":%" PRIu64 ",\"state\":\"%s\",\"dev\":\"%u:%u\","
			       "\"queues\":%u,\"max_pages\":%u,\"max_write\":%u,"
			       "\"max_read\":%u,\"readdir_size\":%u,\"max_background\":%u,"
			       "\"minor\":%u,\"balance\":%u,\"consistency\":",
			       i ? "," : "", s->id, mqctl_state_name(s->state),
			       s->dev_major, s->dev_minor, s->nr_queues, s->max_pages,
			       s->max_write, s->max_read, s->readdir_size,
			       s->max_background, s->minor, s->balance);
			mqctl_json_str(stdout, s->consistency);
			printf(",\"transport\":");
			mqctl_json_str(stdout, s->transport);
			printf(",\"daemons\":%u,\"waiting\":%u,\"daemon_pid\":%u,"
			       "\"recovery_s\":%u,\"recoveries\":%u,\"replayed\":%" PRIu64
			       ",\"mountpoint\":", s->daemons, s->waiting, s->daemon_pid,
			       s->recovery_s, s->recoveries, s->replayed);
			if (strcmp(mnt, "-"))
				mqctl_json_str(stdout, path);
			else
				printf("null");
			printf("}");
		}
		printf("]\n");
		mqctl_sessions_free(&ss);
		return MQCTL_EXIT_OK;
	}
	if (!mqctl_no_header)
		printf("ID STATE DEV QUEUES MAX_PAGES MAX_WRITE MAX_READ CONSISTENCY "
		       "TRANSPORT DAEMONS WAITING DAEMON_PID RECOVERY RECOVERIES "
		       "REPLAYED MOUNTPOINT\n");
	for (i = 0; i < ss.n; i++) {
		struct mqctl_session *s = &ss.v[i];
		char recovery[16];

		mqctl_mountpoint(s->dev_major, s->dev_minor, mnt, sizeof(mnt));
		if (s->recovery_s)
			snprintf(recovery, sizeof(recovery), "%us", s->recovery_s);
		else
			snprintf(recovery, sizeof(recovery), "off");
		printf("%" PRIu64 " %s %u:%u %u %u %u %u %s %s %u %u %u %s %u %" PRIu64 " %s\n",
		       s->id, mqctl_state_name(s->state), s->dev_major, s->dev_minor,
		       s->nr_queues, s->max_pages, s->max_write, s->max_read,
		       s->consistency, s->transport, s->daemons, s->waiting,
		       s->daemon_pid, recovery, s->recoveries, s->replayed, mnt);
	}
	mqctl_sessions_free(&ss);
	return MQCTL_EXIT_OK;
}

/* A session id as sysfs names it: decimal, 1 or more, no sign. */
static int mqctl_parse_session_id(const char *s, uint64_t *id)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*id = strtoull(s, &end, 10);
	if (errno || *end || !*id)
		return -EINVAL;
	return 0;
}

/* GET_SESSION for @id alone: one complete session in @ss, or -errno. */
static int mqctl_get_one(struct mqctl *c, uint64_t id, struct mqctl_sessions *ss)
{
	int err;

	memset(ss, 0, sizeof(*ss));
	err = mqctl_request(c, MQFUSE_CMD_GET_SESSION, 0, &id, mqctl_session_cb, ss);
	if (!err)
		err = ss->err;
	if (!err && (ss->n != 1 || ss->v[0].id != id ||
		     ss->v[0].nr_seen != ss->v[0].nr_queues)) {
		snprintf(c->errmsg, sizeof(c->errmsg), "session %" PRIu64 ": bad reply", id);
		err = -EPROTO;
	}
	return err;
}

static int mqctl_cmd_queues(struct mqctl *c, uint64_t id)
{
	struct mqctl_sessions ss = { 0 };
	struct mqctl_session *s;
	unsigned int i;
	int err;

	err = mqctl_get_one(c, id, &ss);
	if (err == -ENOENT) {
		fprintf(stderr, "%s: %s has no session %" PRIu64 "\n", mqctl_prog,
			c->family_name, id);
		mqctl_sessions_free(&ss);
		return MQCTL_EXIT_NO_SESSION;
	}
	if (err) {
		mqctl_report(c, "GET_SESSION", err);
		mqctl_sessions_free(&ss);
		return MQCTL_EXIT_ERROR;
	}
	s = &ss.v[0];
	if (mqctl_json) {
		printf("[");
		for (i = 0; i < s->nr_seen; i++) {
			struct mqctl_queue *q = &s->queues[i];

			printf("%s{\"queue\":%u,\"requests\":%" PRIu64 ",\"forgets\":%" PRIu64
			       ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
			       ",\"wait_ns\":%" PRIu64 ",\"stolen\":%" PRIu64
			       ",\"interrupts\":%" PRIu64 ",\"errors\":%" PRIu64
			       ",\"bg_waits\":%" PRIu64 ",\"pending\":%u,\"in_daemon\":%u"
			       ",\"background\":%u,\"max_background\":%u"
			       ",\"in_daemon_max\":%u,\"ring_batches\":%" PRIu64
			       ",\"ring_requests\":%" PRIu64 "}",
			       i ? "," : "", q->index, q->requests, q->forgets, q->bytes_in,
			       q->bytes_out, q->wait_ns, q->stolen, q->interrupts, q->errors,
			       q->bg_waits, q->pending, q->in_daemon, q->background,
			       q->max_background, q->in_daemon_max, q->ring_batches,
			       q->ring_requests);
		}
		printf("]\n");
		mqctl_sessions_free(&ss);
		return MQCTL_EXIT_OK;
	}
	if (!mqctl_no_header)
		printf("QUEUE REQUESTS FORGETS BYTES_IN BYTES_OUT WAIT_NS STOLEN "
		       "INTERRUPTS ERRORS BG_WAITS PENDING IN_DAEMON BACKGROUND "
		       "MAX_BACKGROUND IN_DAEMON_MAX RING_BATCHES RING_REQUESTS\n");
	for (i = 0; i < s->nr_seen; i++) {
		struct mqctl_queue *q = &s->queues[i];

		printf("%u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		       " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u %u %u %u"
		       " %" PRIu64 " %" PRIu64 "\n",
		       q->index, q->requests, q->forgets, q->bytes_in, q->bytes_out,
		       q->wait_ns, q->stolen, q->interrupts, q->errors, q->bg_waits,
		       q->pending, q->in_daemon, q->background, q->max_background,
		       q->in_daemon_max, q->ring_batches, q->ring_requests);
	}
	mqctl_sessions_free(&ss);
	return MQCTL_EXIT_OK;
}

/* A state-changing command (@what: ABORT, SET_SESSION) on session @id. */
static int mqctl_change(struct mqctl *c, uint8_t cmd, const char *what, uint64_t id,
			const struct mqctl_tunable *set)
{
	int err = mqctl_request_set(c, cmd, 0, &id, set, NULL, NULL);

	if (err == -ENOENT) {
		fprintf(stderr, "%s: %s has no session %" PRIu64 "\n", mqctl_prog,
			c->family_name, id);
		return MQCTL_EXIT_NO_SESSION;
	}
	if (err == -EPERM) {
		fprintf(stderr, "%s: %s %s of session %" PRIu64
			": Operation not permitted (needs CAP_NET_ADMIN)\n", mqctl_prog,
			c->family_name, what, id);
		return MQCTL_EXIT_PERM;
	}
	if (err) {
		mqctl_report(c, what, err);
		return MQCTL_EXIT_ERROR;
	}
	return MQCTL_EXIT_OK;
}

static int mqctl_cmd_abort(struct mqctl *c, uint64_t id)
{
	return mqctl_change(c, MQFUSE_CMD_ABORT, "ABORT", id, NULL);
}

/* The tunables of 'set', by name; values are checked by the kernel. */
static const struct {
	const char *name;
	int type;
} mqctl_tunables[] = {
	{ "max_background", MQFUSE_ATTR_SESSION_MAX_BACKGROUND },
	{ "recovery", MQFUSE_ATTR_SESSION_RECOVERY_S },
};
#define MQCTL_NR_TUNABLES (sizeof(mqctl_tunables) / sizeof(mqctl_tunables[0]))

/* "name=value" into @t; -EINVAL with a message on stderr if it is not one. */
static int mqctl_parse_tunable(const char *arg, struct mqctl_tunable *t)
{
	const char *eq = strchr(arg, '=');
	unsigned long long v;
	unsigned int i;
	char *end;

	for (i = 0; eq && i < MQCTL_NR_TUNABLES; i++) {
		if (strlen(mqctl_tunables[i].name) != (size_t)(eq - arg) ||
		    strncmp(arg, mqctl_tunables[i].name, eq - arg))
			continue;
		errno = 0;
		v = strtoull(eq + 1, &end, 10);
		if (eq[1] < '0' || eq[1] > '9' || errno || *end || v > UINT32_MAX)
			break;
		t->type = mqctl_tunables[i].type;
		t->value = (uint32_t)v;
		return 0;
	}
	return -EINVAL;
}

static int mqctl_cmd_set(struct mqctl *c, uint64_t id, const struct mqctl_tunable *set)
{
	return mqctl_change(c, MQFUSE_CMD_SET_SESSION, "SET_SESSION", id, set);
}

/* ---- monitor ---- */

static volatile sig_atomic_t mqctl_stop;

static void mqctl_on_signal(int sig)
{
	(void)sig;
	mqctl_stop = 1;
}

struct mqctl_monitor {
	unsigned long count;		/* stop after this many events, 0: never */
	unsigned long seen;		/* events printed */
};

/* Wall-clock time with milliseconds and the UTC offset (ISO 8601). */
static void mqctl_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char date[24], zone[8];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(buf, len, "%s.%03d%s", date, (int)(ts.tv_nsec / 1000000) % 1000, zone);
}

static int mqctl_event_cb(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[MQFUSE_ATTR_MAX + 1];
	struct mqctl_monitor *m = arg;
	uint32_t event, state;
	char now[64];
	uint64_t id;

	if (gh->cmd != MQFUSE_CMD_EVENT ||
	    nla_parse(tb, MQFUSE_ATTR_MAX, genlmsg_attrdata(gh, 0),
		      genlmsg_attrlen(gh, 0), mqctl_policy) ||
	    !tb[MQFUSE_ATTR_EVENT] || !tb[MQFUSE_ATTR_SESSION_ID]) {
		fprintf(stderr, "%s: monitor: malformed event message skipped\n", mqctl_prog);
		return NL_SKIP;
	}
	event = nla_get_u32(tb[MQFUSE_ATTR_EVENT]);
	id = nla_get_u64(tb[MQFUSE_ATTR_SESSION_ID]);
	state = mqctl_u32(tb, MQFUSE_ATTR_SESSION_STATE);
	mqctl_now(now, sizeof(now));
	if (mqctl_json)
		printf("{\"time\":\"%s\",\"session\":%" PRIu64 ",\"event\":\"%s\","
		       "\"state\":\"%s\"}\n", now, id, mqctl_event_name(event),
		       mqctl_state_name(state));
	else
		printf("%s %" PRIu64 " %s %s\n", now, id, mqctl_event_name(event),
		       mqctl_state_name(state));
	fflush(stdout);
	m->seen++;
	return m->count && m->seen >= m->count ? NL_STOP : NL_OK;
}

/*
 * Subscribe to the family's "events" group and print each event until
 * SIGINT/SIGTERM or --count events. The signals stay blocked but while
 * ppoll() waits, so one arriving at any moment ends the loop at once.
 */
static int mqctl_cmd_monitor(struct mqctl *c, unsigned long count)
{
	struct mqctl_monitor m = { .count = count };
	struct sigaction sa = { .sa_handler = mqctl_on_signal };
	sigset_t block, orig;
	struct pollfd pfd;
	int grp, ret;

	grp = genl_ctrl_resolve_grp(c->sk, c->family_name, MQFUSE_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		fprintf(stderr, "%s: %s: multicast group %s: %s\n", mqctl_prog, c->family_name,
			MQFUSE_GENL_MCGRP_EVENTS, nl_geterror(grp));
		return MQCTL_EXIT_ERROR;
	}
	ret = nl_socket_add_membership(c->sk, grp);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: join %s: %s\n", mqctl_prog, c->family_name,
			MQFUSE_GENL_MCGRP_EVENTS, nl_geterror(ret));
		return MQCTL_EXIT_ERROR;
	}
	/* events are not replies: no sequence numbers to match */
	nl_socket_disable_seq_check(c->sk);
	nl_socket_modify_cb(c->sk, NL_CB_VALID, NL_CB_CUSTOM, mqctl_event_cb, &m);
	ret = nl_socket_set_nonblocking(c->sk);
	if (ret < 0) {
		fprintf(stderr, "%s: monitor: %s\n", mqctl_prog, nl_geterror(ret));
		return MQCTL_EXIT_ERROR;
	}

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* subscribed: a test may start what it monitors once this is out */
	if (!mqctl_json && !mqctl_no_header)
		printf("TIME SESSION EVENT STATE\n");
	fflush(stdout);

	pfd.fd = nl_socket_get_fd(c->sk);
	pfd.events = POLLIN;
	while (!mqctl_stop && !(count && m.seen >= count)) {
		if (ppoll(&pfd, 1, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: monitor: poll: %s\n", mqctl_prog, strerror(errno));
			return MQCTL_EXIT_ERROR;
		}
		ret = nl_recvmsgs_default(c->sk);
		if (ret >= 0 || ret == -NLE_AGAIN)
			continue;
		if (ret == -NLE_NOMEM) {
			/* ENOBUFS: our buffer overran, or the kernel could not send */
			fprintf(stderr, "%s: monitor: events were lost (ENOBUFS); "
				"list the sessions to resynchronise\n", mqctl_prog);
			continue;
		}
		fprintf(stderr, "%s: monitor: %s\n", mqctl_prog, nl_geterror(ret));
		return MQCTL_EXIT_ERROR;
	}
	return MQCTL_EXIT_OK;
}

static int mqctl_cmd_generations(void)
{
	int gens[MQCTL_MAX_GENS], n, i, rc = MQCTL_EXIT_OK;
	bool first = true;

	n = mq_list_generations("/proc/filesystems", gens, MQCTL_MAX_GENS);
	if (n < 0) {
		fprintf(stderr, "%s: /proc/filesystems: %s\n", mqctl_prog, strerror(-n));
		return MQCTL_EXIT_ERROR;
	}
	if (!n) {
		fprintf(stderr, "%s: no mqfuse generation is loaded\n", mqctl_prog);
		return MQCTL_EXIT_NOT_LOADED;
	}
	if (mqctl_json)
		printf("[");
	else if (!mqctl_no_header)
		printf("GEN NAME VERSION SESSIONS\n");
	for (i = 0; i < n; i++) {
		struct mqctl_sessions ss;
		struct mqctl c;
		char version[32];
		int ret = mqctl_open(&c, gens[i]);

		if (ret) {
			/* unloaded meanwhile: say so, list the others */
			rc = MQCTL_EXIT_ERROR;
			mqctl_close(&c);
			continue;
		}
		ret = mqctl_get_version(&c, version);
		if (ret) {
			mqctl_report(&c, "GET_VERSION", ret);
			rc = MQCTL_EXIT_ERROR;
		} else if (mqctl_dump_sessions(&c, &ss)) {
			rc = MQCTL_EXIT_ERROR;
			mqctl_sessions_free(&ss);
		} else if (mqctl_json) {
			printf("%s{\"gen\":%d,\"name\":\"%s\",\"version\":", first ? "" : ",",
			       c.gen, c.family_name);
			mqctl_json_str(stdout, version);
			printf(",\"sessions\":%zu}", ss.n);
			first = false;
			mqctl_sessions_free(&ss);
		} else {
			printf("%d %s %s %zu\n", c.gen, c.family_name, version, ss.n);
			mqctl_sessions_free(&ss);
		}
		mqctl_close(&c);
	}
	if (mqctl_json)
		printf("]\n");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "gen", required_argument, NULL, 'g' },
		{ "no-header", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	struct mqctl c;
	unsigned long count = 0;
	bool count_set = false;
	struct mqctl_tunable set[MQCTL_NR_TUNABLES + 1] = { { 0, 0 } };
	uint64_t id = 0;
	int opt, want = 0, rc;
	char *end;

	while ((opt = getopt_long(argc, argv, "+g:Hhjc:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g':
			if (mq_parse_generation(optarg, &want))
				return mqctl_usage_error("--gen: '%s' is not a generation number (1, 2, ...)",
							 optarg);
			break;
		case 'H':
			mqctl_no_header = true;
			break;
		case 'j':
			mqctl_json = true;
			break;
		case 'c':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno || *end || !count || *optarg < '0' || *optarg > '9')
				return mqctl_usage_error("--count: '%s' is not a positive number",
							 optarg);
			count_set = true;
			break;
		case 'h':
			mqctl_usage(stdout);
			return MQCTL_EXIT_OK;
		default:
			mqctl_usage(stderr);
			return MQCTL_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return mqctl_usage_error("missing command%s", "");
	cmd = argv[optind++];
	/* the names of issue 10 and mqfusectl(8): list and stats */
	if (!strcmp(cmd, "list"))
		cmd = "sessions";
	else if (!strcmp(cmd, "stats"))
		cmd = "queues";
	if (count_set && strcmp(cmd, "monitor"))
		return mqctl_usage_error("--count belongs to monitor%s", "");
	if (!strcmp(cmd, "queues") || !strcmp(cmd, "abort")) {
		if (argc - optind != 1)
			return mqctl_usage_error("%s takes one session id", cmd);
		if (mqctl_parse_session_id(argv[optind], &id))
			return mqctl_usage_error("'%s' is not a session id (1, 2, ...: see 'sessions')",
						 argv[optind]);
	} else if (!strcmp(cmd, "set")) {
		int i, n = argc - optind - 1;

		if (n < 1 || n > (int)MQCTL_NR_TUNABLES)
			return mqctl_usage_error("set takes a session id and 1 to 2 NAME=VALUE%s", "");
		if (mqctl_parse_session_id(argv[optind], &id))
			return mqctl_usage_error("'%s' is not a session id (1, 2, ...: see 'sessions')",
						 argv[optind]);
		for (i = 0; i < n; i++) {
			int j;

			if (mqctl_parse_tunable(argv[optind + 1 + i], &set[i]))
				return mqctl_usage_error("'%s' is not NAME=VALUE with NAME max_background or recovery",
							 argv[optind + 1 + i]);
			for (j = 0; j < i; j++)
				if (set[j].type == set[i].type)
					return mqctl_usage_error("'%s': that tunable is given twice",
								 argv[optind + 1 + i]);
		}
	} else if (!strcmp(cmd, "version") || !strcmp(cmd, "sessions") ||
		   !strcmp(cmd, "generations") || !strcmp(cmd, "monitor")) {
		if (argc - optind != 0)
			return mqctl_usage_error("%s takes no argument", cmd);
		if (!strcmp(cmd, "generations") && want)
			return mqctl_usage_error("generations lists all of them: no --gen%s", "");
	} else {
		return mqctl_usage_error("unknown command '%s'", cmd);
	}

	if (!strcmp(cmd, "generations"))
		return mqctl_cmd_generations();
	rc = mqctl_open(&c, want);
	if (rc) {
		mqctl_close(&c);
		return rc;
	}
	if (!strcmp(cmd, "version"))
		rc = mqctl_cmd_version(&c);
	else if (!strcmp(cmd, "sessions"))
		rc = mqctl_cmd_sessions(&c);
	else if (!strcmp(cmd, "abort"))
		rc = mqctl_cmd_abort(&c, id);
	else if (!strcmp(cmd, "set"))
		rc = mqctl_cmd_set(&c, id, set);
	else if (!strcmp(cmd, "monitor"))
		rc = mqctl_cmd_monitor(&c, count);
	else
		rc = mqctl_cmd_queues(&c, id);
	mqctl_close(&c);
	return rc;
}
