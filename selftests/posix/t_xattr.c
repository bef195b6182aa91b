// SPDX-License-Identifier: GPL-2.0
/* t_xattr.c - user.* extended attributes. */
#include "posix_test.h"

#include <sys/xattr.h>

void t_xattr(void)
{
	char buf[256], big[4000];
	ssize_t n;
	int ret, fd;

	mkfile("x", 0644, NULL);
	ret = setxattr("x", "user.one", "value1", 6, 0);
	if (posix_excluded("xattr")) {
		tap_skip("xattr: user.* attributes", "excluded with -x xattr");
		return;
	}
	if (ret == -1 && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
		posix_skip("xattr", "xattr: user.* attributes", "not supported");
		return;
	}
	tap_succ(ret, "xattr: setxattr user.one");
	tap_eq(getxattr("x", "user.one", NULL, 0), 6, "xattr: size query");
	n = getxattr("x", "user.one", buf, sizeof(buf));
	tap_eq(n, 6, "xattr: getxattr length");
	tap_ok(n == 6 && !memcmp(buf, "value1", 6), "xattr: getxattr value");
	tap_errno(getxattr("x", "user.one", buf, 3), ERANGE,
		  "xattr: getxattr small buffer -> ERANGE");
	tap_errno(getxattr("x", "user.none", buf, sizeof(buf)), ENODATA,
		  "xattr: getxattr missing -> ENODATA");
	tap_errno(setxattr("x", "user.one", "v", 1, XATTR_CREATE), EEXIST,
		  "xattr: XATTR_CREATE existing -> EEXIST");
	tap_errno(setxattr("x", "user.two", "v", 1, XATTR_REPLACE), ENODATA,
		  "xattr: XATTR_REPLACE missing -> ENODATA");
	tap_succ(setxattr("x", "user.one", "new", 3, XATTR_REPLACE),
		 "xattr: XATTR_REPLACE existing");
	n = getxattr("x", "user.one", buf, sizeof(buf));
	tap_ok(n == 3 && !memcmp(buf, "new", 3), "xattr: value replaced");
	tap_succ(setxattr("x", "user.two", "", 0, XATTR_CREATE),
		 "xattr: XATTR_CREATE empty value");
	tap_eq(getxattr("x", "user.two", buf, sizeof(buf)), 0,
	       "xattr: empty value has length 0");
	memset(big, 'b', sizeof(big));
	tap_succ(setxattr("x", "user.big", big, sizeof(big), 0),
		 "xattr: 4000-byte value");
	{
		char rb[4000];

		tap_ok(getxattr("x", "user.big", rb, sizeof(rb)) == sizeof(rb) &&
		       !memcmp(rb, big, sizeof(rb)), "xattr: 4000-byte value round trip");
	}

	n = listxattr("x", NULL, 0);
	tap_ok(n >= (ssize_t)(sizeof("user.one") + sizeof("user.two") +
			      sizeof("user.big")), "xattr: listxattr size query");
	n = listxattr("x", buf, sizeof(buf));
	{
		int found = 0;
		ssize_t i;

		for (i = 0; i < n; i += strlen(buf + i) + 1)
			found += !strcmp(buf + i, "user.one") ||
				 !strcmp(buf + i, "user.two") ||
				 !strcmp(buf + i, "user.big");
		tap_eq(found, 3, "xattr: listxattr lists all three names");
	}
	tap_errno(listxattr("x", buf, 5), ERANGE,
		  "xattr: listxattr small buffer -> ERANGE");
	tap_succ(removexattr("x", "user.two"), "xattr: removexattr");
	tap_errno(getxattr("x", "user.two", buf, sizeof(buf)), ENODATA,
		  "xattr: removed attribute -> ENODATA");
	tap_errno(removexattr("x", "user.two"), ENODATA,
		  "xattr: removexattr missing -> ENODATA");

	fd = open("x", O_RDONLY);
	tap_succ(fsetxattr(fd, "user.fd", "f", 1, 0), "xattr: fsetxattr");
	tap_eq(fgetxattr(fd, "user.fd", buf, sizeof(buf)), 1, "xattr: fgetxattr");
	tap_succ(fremovexattr(fd, "user.fd"), "xattr: fremovexattr");
	close(fd);

	mkdir("xd", 0755);
	tap_succ(setxattr("xd", "user.dir", "d", 1, 0), "xattr: on a directory");
	tap_eq(getxattr("xd", "user.dir", buf, sizeof(buf)), 1,
	       "xattr: read back from a directory");
	symlink("x", "xl");
	tap_ok(getxattr("xl", "user.one", buf, sizeof(buf)) == 3,
	       "xattr: getxattr follows symlinks");
	{
		ssize_t r = lgetxattr("xl", "user.one", buf, sizeof(buf));

		tap_ok(r == -1 && (errno == ENODATA || errno == EPERM ||
				   errno == ENOTSUP),
		       "xattr: lgetxattr on the link does not see the target's");
	}
	tap_succ(link("x", "xh"), "xattr: hard link");
	tap_eq(getxattr("xh", "user.one", buf, sizeof(buf)), 3,
	       "xattr: attributes shared by hard links");
	tap_ok(rename("x", "xr") == 0 &&
	       getxattr("xr", "user.one", buf, sizeof(buf)) == 3,
	       "xattr: attributes survive rename");
	tap_errno(setxattr("xr", "bogus.ns", "v", 1, 0), EOPNOTSUPP,
		  "xattr: unknown namespace -> EOPNOTSUPP");
	tap_errno(getxattr("missing", "user.one", buf, sizeof(buf)), ENOENT,
		  "xattr: getxattr on missing file -> ENOENT");
}
