// SPDX-License-Identifier: GPL-2.0
/*
 * mqmount - mount an mqfuse filesystem and hand the device fd to a daemon.
 *
 *   mqmount [-d DEVICE] [-t FSTYPE] [-o OPTS] [-r] [-l LOG] MNT [-- CMD ARGS...]
 *
 * Opens DEVICE (default /dev/mqfuse_v<GEN>), mounts FSTYPE (default
 * mqfuse_v<GEN>) on MNT with "fd=N,rootmode=40000,user_id=0,group_id=0" plus
 * OPTS, then runs CMD in the background with every argument "%FD" replaced
 * by N (e.g. "lfpt -f SRC /dev/fd/%FD"). The launcher itself closes the fd,
 * so the session ends when the daemon exits. -r: raw, OPTS replace the
 * defaults entirely (to test option errors). Without CMD the fd is closed
 * right after the mount (the session aborts: useful for error tests).
 * CMD's stdout/stderr go to LOG (default /dev/null); mqmount prints CMD's pid.
 * Exit status: 0, or the mount errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mqfuse.h"

int main(int argc, char **argv)
{
	const char *dev = MQFUSE_DEV_PATH, *fstype = MQFUSE_NAME, *opts = NULL;
	const char *log = "/dev/null";
	char data[4096], fdstr[16];
	int raw = 0, c, fd, i;
	const char *mnt;
	pid_t pid;

	while ((c = getopt(argc, argv, "d:t:o:rl:")) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 't': fstype = optarg; break;
		case 'o': opts = optarg; break;
		case 'r': raw = 1; break;
		case 'l': log = optarg; break;
		default:
			fprintf(stderr, "usage: mqmount [-d DEV] [-t FSTYPE] [-o OPTS] [-r] MNT [-- CMD...]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "mqmount: missing mountpoint\n");
		return 2;
	}
	mnt = argv[optind++];
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(dev);
		return 1;
	}
	if (raw)
		snprintf(data, sizeof(data), "%s", opts ? opts : "");
	else
		snprintf(data, sizeof(data), "fd=%d,rootmode=40000,user_id=0,group_id=0%s%s",
			 fd, opts ? "," : "", opts ? opts : "");
	/* "%FD" in raw options too */
	if (raw && strstr(data, "%FD")) {
		char *p = strstr(data, "%FD"), *tmp;

		*p = '\0';
		if (asprintf(&tmp, "%s%d%s", data, fd, p + 3) < 0)
			return 1;
		snprintf(data, sizeof(data), "%.4000s", tmp);
		free(tmp);
	}
	if (mount("mqfuse", mnt, fstype, MS_NOSUID | MS_NODEV, data)) {
		int e = errno;

		fprintf(stderr, "mqmount: mount %s (%s): %s\n", mnt, data, strerror(e));
		return e;
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		close(fd);
		return 0;
	}
	snprintf(fdstr, sizeof(fdstr), "%d", fd);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		char **av = calloc(argc - optind + 1, sizeof(*av));

		for (i = optind; i < argc; i++) {
			char *p = strstr(argv[i], "%FD");

			if (p) {
				size_t n = strlen(argv[i]) + 16;
				char *s = malloc(n);

				snprintf(s, n, "%.*s%s%s", (int)(p - argv[i]), argv[i], fdstr, p + 3);
				av[i - optind] = s;
			} else {
				av[i - optind] = argv[i];
			}
		}
		int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (lfd >= 0) {
			dup2(lfd, 1);
			dup2(lfd, 2);
			close(lfd);
		}
		fcntl(fd, F_SETFD, 0);	/* the daemon inherits the device */
		setsid();
		execvp(av[0], av);
		perror(av[0]);
		_exit(127);
	}
	close(fd);
	printf("%d\n", pid);
	return 0;
}
