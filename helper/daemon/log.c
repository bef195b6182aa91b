// SPDX-License-Identifier: GPL-2.0
/*
 * Levelled logging to stderr or syslog.  Everything the kernel or a client
 * can trigger is logged at debug level or rate limited by the caller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "mqfused.h"

static enum mq_log_level mq_log_level = MQ_LOG_WARN;
/* The program's name in messages (mqfuse-server sets its own). */
const char *mq_log_ident = "mqfused";
static bool mq_log_syslog;	/* messages go to syslog, not stderr */
static bool mq_log_connected;	/* openlog() done: the log socket is open */

static const char *const mq_level_names[] = {
	[MQ_LOG_ERR] = "err",
	[MQ_LOG_WARN] = "warn",
	[MQ_LOG_INFO] = "info",
	[MQ_LOG_DEBUG] = "debug",
};

static const int mq_level_prio[] = {
	[MQ_LOG_ERR] = LOG_ERR,
	[MQ_LOG_WARN] = LOG_WARNING,
	[MQ_LOG_INFO] = LOG_INFO,
	[MQ_LOG_DEBUG] = LOG_DEBUG,
};

void mq_log_init(enum mq_log_level level, bool use_syslog)
{
	mq_log_level = level;
	if (use_syslog)
		mq_log_to_syslog();
}

/*
 * Connect the log socket now (LOG_NDELAY): inside the sandbox there is no
 * /dev/log to connect to later.  Messages keep going where they went.
 */
void mq_log_open_syslog(void)
{
	openlog(mq_log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	mq_log_connected = true;
}

/*
 * Close the log socket; true if it was open.  glibc keeps the socket's
 * descriptor to itself: a sweep of descriptors (session.c) closes the
 * socket this way first and connects again after.
 */
bool mq_log_close_syslog(void)
{
	bool was_open = mq_log_connected;

	if (was_open)
		closelog();
	mq_log_connected = false;
	return was_open;
}

void mq_log_to_syslog(void)
{
	if (mq_log_syslog)
		return;
	mq_log_open_syslog();
	mq_log_syslog = true;
}

void mq_log_detach_stdio(int null_fd)
{
	mq_log_to_syslog();
	if (null_fd >= 0) {
		dup2(null_fd, 0);
		dup2(null_fd, 1);
		dup2(null_fd, 2);
	}
}

int mq_log_parse_level(const char *s)
{
	unsigned int i;

	for (i = 0; i < sizeof(mq_level_names) / sizeof(mq_level_names[0]); i++)
		if (!strcasecmp(s, mq_level_names[i]))
			return i;
	if (!strcasecmp(s, "error"))
		return MQ_LOG_ERR;
	if (!strcasecmp(s, "warning"))
		return MQ_LOG_WARN;
	return -EINVAL;
}

bool mq_log_enabled(enum mq_log_level level)
{
	return level <= mq_log_level;
}

static void mq_vlog(enum mq_log_level level, bool everywhere,
		    const char *fmt, va_list ap)
{
	char msg[1024];

	/* --log-level does not filter what must not be missed. */
	if (!everywhere && !mq_log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (mq_log_syslog || (everywhere && mq_log_connected))
		syslog(mq_level_prio[level], "%s", msg);
	if (!mq_log_syslog || everywhere)
		fprintf(stderr, "%s: %s: %s\n", mq_log_ident, mq_level_names[level],
			msg);
}

void mq_log(enum mq_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mq_vlog(level, false, fmt, ap);
	va_end(ap);
}

/*
 * For what whoever starts the daemon must not miss: stderr (still the
 * caller's before mqfused daemonizes) and syslog too once its socket is
 * open (--syslog, or mqfused is about to daemonize and log there), at any
 * --log-level.
 */
void mq_log_everywhere(enum mq_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mq_vlog(level, true, fmt, ap);
	va_end(ap);
}
