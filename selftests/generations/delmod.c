// SPDX-License-Identifier: GPL-2.0
/*
 * delmod MODULE: delete_module(2) with O_NONBLOCK, as rmmod does, without
 * rmmod's own "is in use" check in front of it: the kernel decides. Prints
 * "removed" (exit 0) or the errno's name (exit 1), so a test can tell a
 * module in use (EWOULDBLOCK/EAGAIN on 6.1 and 6.12, EBUSY while it is
 * still loading or going away) from other refusals.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static const char *errname(int e)
{
	switch (e) {
	case EAGAIN:	return "EAGAIN";	/* == EWOULDBLOCK */
	case EBUSY:	return "EBUSY";
	case ENOENT:	return "ENOENT";
	case EPERM:	return "EPERM";
	case EINVAL:	return "EINVAL";
	default:	return strerror(e);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: delmod MODULE\n");
		return 2;
	}
	if (syscall(SYS_delete_module, argv[1], O_NONBLOCK)) {
		printf("%s\n", errname(errno));
		return 1;
	}
	printf("removed\n");
	return 0;
}
