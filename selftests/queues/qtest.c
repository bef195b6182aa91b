// SPDX-License-Identifier: GPL-2.0
/*
 * qtest: per-CPU queue placement and balancing, seen from the daemon side.
 *
 *   qtest [-t FSTYPE] [-d DEVICE] affinity|balance-on|balance-off MOUNTPOINT
 *
 * Mounts tinyfs with queues=2, serves it with two threads, thread q reading
 * through an fd bound to queue q (MQFUSE_IOC_BIND_QUEUE), and counts the
 * LOOKUPs each thread served.
 *  affinity:    a client pinned to CPU c is served only by thread c.
 *  balance-on:  thread 0 does not read at all; a client pinned to CPU 0 is
 *               still served, by thread 1 taking work from queue 0.
 *  balance-off: same, but the request waits for thread 0 (thread 1 never
 *               takes it).
 * One TAP line per check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mqfuse.h"
#include "tap.h"
#include "tinyfs.h"

#define tap(cond, ...)	tap_ok(cond, __VA_ARGS__)

#define NQ 2

static const char *fstype = MQFUSE_NAME;
static const char *devpath = MQFUSE_DEV_PATH;
static atomic_uint served[NQ];		/* LOOKUPs served per thread */
static atomic_bool gate_open[NQ];	/* a closed thread does not read */
static int qfd[NQ];

static void *server(void *arg)
{
	long q = (long)arg;
	char *buf = malloc(TINYFS_BUFSZ);

	while (!atomic_load(&gate_open[q]))
		usleep(10000);
	for (;;) {
		ssize_t n = read(qfd[q], buf, TINYFS_BUFSZ);
		struct req r;

		if (n < 0) {
			if (errno == EINTR || errno == ENOENT || errno == EAGAIN)
				continue;
			break;	/* ENODEV: unmounted */
		}
		r.h = (void *)buf;
		r.arg = buf + sizeof(struct fuse_in_header);
		r.len = n;
		if (r.h->opcode == FUSE_LOOKUP)
			atomic_fetch_add(&served[q], 1);
		serve_normal(qfd[q], &r);
	}
	free(buf);
	return NULL;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void lookups(const char *mnt, int count)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/file", mnt);
	while (count--)
		stat(path, &st);
}

/* Sum of "stolen" over the session's queues, from sysfs; -1 if not found. */
static long sysfs_stolen(const char *mnt)
{
	char path[512], line[128];
	struct stat st;
	long total = -1;

	if (stat(mnt, &st))
		return -1;
	for (int id = 1; id < 4096; id++) {
		unsigned int maj, min;
		FILE *f;

		snprintf(path, sizeof(path), MQFUSE_SYSFS_PATH "/%d/dev", id);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%u:%u", &maj, &min) != 2 ||
		    makedev(maj, min) != st.st_dev) {
			fclose(f);
			continue;
		}
		fclose(f);
		total = 0;
		for (int q = 0; q < NQ; q++) {
			snprintf(path, sizeof(path), MQFUSE_SYSFS_PATH "/%d/queue%d/stats", id, q);
			f = fopen(path, "r");
			if (!f)
				continue;
			while (fgets(line, sizeof(line), f)) {
				long v;

				if (sscanf(line, "stolen %ld", &v) == 1)
					total += v;
			}
			fclose(f);
		}
		break;
	}
	return total;
}

int main(int argc, char **argv)
{
	const char *mode, *mnt;
	pthread_t th[NQ];
	char opts[256], buf[TINYFS_BUFSZ > 65536 ? 65536 : TINYFS_BUFSZ];
	int opt, balance;

	while ((opt = getopt(argc, argv, "t:d:")) != -1) {
		if (opt == 't')
			fstype = optarg;
		else if (opt == 'd')
			devpath = optarg;
		else
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;
	mode = argv[optind];
	mnt = argv[optind + 1];
	balance = !strcmp(mode, "balance-on");
	if (strcmp(mode, "affinity") && strcmp(mode, "balance-on") && strcmp(mode, "balance-off"))
		goto usage;
	tap_init(0);
	if (sysconf(_SC_NPROCESSORS_ONLN) < NQ) {
		printf("ok - %s # SKIP needs %d CPUs\n", mode, NQ);
		return 0;
	}
	alarm(120);

	qfd[0] = open(devpath, O_RDWR);
	if (qfd[0] < 0) {
		tap(0, "%s: open %s: %s", mode, devpath, strerror(errno));
		return 1;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,queues=%d,balance=%s",
		 qfd[0], NQ, balance ? "on" : "off");
	if (mount("qtest", mnt, fstype, 0, opts)) {
		tap(0, "%s: mount -o %s: %s", mode, opts, strerror(errno));
		return 1;
	}
	/* INIT comes first, to an unbound reader. */
	{
		ssize_t n = read(qfd[0], buf, sizeof(buf));
		struct req r = { (void *)buf, buf + sizeof(struct fuse_in_header), (size_t)n };

		if (n < (ssize_t)sizeof(struct fuse_in_header) || r.h->opcode != FUSE_INIT) {
			tap(0, "%s: first request is INIT", mode);
			return 1;
		}
		serve_normal(qfd[0], &r);
	}
	for (__u32 q = 0; q < NQ; q++) {
		if (q) {
			__u32 src = qfd[0];

			qfd[q] = open(devpath, O_RDWR);
			if (qfd[q] < 0 || ioctl(qfd[q], MQFUSE_IOC_CLONE, &src)) {
				tap(0, "%s: clone fd for queue %u: %s", mode, q, strerror(errno));
				return 1;
			}
		}
		if (ioctl(qfd[q], MQFUSE_IOC_BIND_QUEUE, &q)) {
			tap(0, "%s: bind fd to queue %u: %s", mode, q, strerror(errno));
			return 1;
		}
	}
	tap(1, "%s: two fds bound to queues 0 and 1", mode);
	{
		struct mqfuse_session_info info;

		int err;

		memset(&info, 0, sizeof(info));
		err = ioctl(qfd[1], MQFUSE_IOC_GET_INFO, &info);
		tap(!err && info.nr_queues == NQ && info.bound_queue == 1,
		    "%s: GET_INFO reports %u queues, this fd bound to queue %u", mode,
		    info.nr_queues, info.bound_queue);
	}
	atomic_store(&gate_open[1], 1);
	if (strcmp(mode, "affinity"))
		atomic_store(&gate_open[0], 0);
	else
		atomic_store(&gate_open[0], 1);
	for (long q = 0; q < NQ; q++)
		pthread_create(&th[q], NULL, server, (void *)q);

	if (!strcmp(mode, "affinity")) {
		for (int cpu = 0; cpu < NQ; cpu++) {
			unsigned int before[NQ], mine, other;

			for (int q = 0; q < NQ; q++)
				before[q] = atomic_load(&served[q]);
			pin(cpu);
			lookups(mnt, 200);
			mine = atomic_load(&served[cpu]) - before[cpu];
			other = atomic_load(&served[!cpu]) - before[!cpu];
			tap(mine >= 200 && other == 0,
			    "affinity: client on CPU %d served by queue %d's thread (%u there, %u on the other)",
			    cpu, cpu, mine, other);
		}
	} else if (balance) {
		long stolen0 = sysfs_stolen(mnt), stolen1;

		pin(0);
		lookups(mnt, 50);	/* hangs (alarm) unless queue 1's reader steals */
		stolen1 = sysfs_stolen(mnt);
		tap(atomic_load(&served[1]) >= 50 && atomic_load(&served[0]) == 0,
		    "balance-on: queue 0 unattended, its 50 requests served by queue 1's reader (%u)",
		    atomic_load(&served[1]));
		tap(stolen1 - stolen0 >= 50,
		    "balance-on: sysfs counts the stolen requests (%ld)", stolen1 - stolen0);
		atomic_store(&gate_open[0], 1);
	} else {
		pid_t child;
		int status, done;

		child = fork();
		if (child == 0) {
			pin(0);
			lookups(mnt, 1);
			_exit(0);
		}
		sleep(2);
		done = waitpid(child, &status, WNOHANG) == child;
		tap(!done && atomic_load(&served[1]) == 0,
		    "balance-off: a request on unattended queue 0 is not taken by queue 1's reader");
		atomic_store(&gate_open[0], 1);
		if (!done)
			waitpid(child, &status, 0);
		tap(atomic_load(&served[0]) >= 1,
		    "balance-off: it is served once queue 0's reader comes (%u)",
		    atomic_load(&served[0]));
	}

	tap(umount2(mnt, 0) == 0 || umount2(mnt, MNT_DETACH) == 0, "%s: unmount", mode);
	for (int q = 0; q < NQ; q++)
		pthread_join(th[q], NULL);
	return tap_done();

usage:
	fprintf(stderr, "usage: qtest [-t FSTYPE] [-d DEVICE] affinity|balance-on|balance-off MOUNTPOINT\n");
	return 2;
}
