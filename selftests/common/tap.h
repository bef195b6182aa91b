/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tap.h - tiny header-only TAP producer for the mqfuse selftests.
 *
 * Lines carry no test numbers: the VM runner renumbers them when it
 * aggregates several suites into one TAP stream.  Output format:
 *
 *   ok - name
 *   not ok - name
 *   ok - name # SKIP reason
 *   # diagnostic
 *   # N passed, N failed, N skipped
 *
 * Counters are per process: a forked child that emits TAP lines hands
 * its counters back to the parent, which adds them with tap_absorb(), so
 * the summary stays correct.  stdout is line buffered by tap_init() so
 * lines from parent and children never interleave mid-line.
 */
#ifndef MQFUSE_SELFTEST_TAP_H
#define MQFUSE_SELFTEST_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct tap_state {
	unsigned int passed;	/* "ok" lines without SKIP */
	unsigned int failed;	/* "not ok" lines */
	unsigned int skipped;	/* "ok ... # SKIP" lines */
	int verbose;		/* print passing diagnostics too */
};

/* Weak so that every object of a multi-file suite shares one instance. */
struct tap_state tap_state __attribute__((weak));

static inline void tap_init(int verbose)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_state.verbose = verbose;
}

static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
}

/* Print a "# ..." diagnostic line. */
static inline void __attribute__((format(printf, 1, 2)))
tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Report one check; returns cond so callers can chain diagnostics. */
static inline int __attribute__((format(printf, 2, 3)))
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(cond ? "ok - " : "not ok - ", fmt, ap);
	va_end(ap);
	putchar('\n');
	if (cond)
		tap_state.passed++;
	else
		tap_state.failed++;
	return cond;
}

/* Report a skipped check: "ok - name # SKIP reason". */
static inline void __attribute__((format(printf, 2, 3)))
tap_skip(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("ok - %s # SKIP ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	tap_state.skipped++;
}

/* Compare two integers; on mismatch print expected/got and errno. */
#define tap_eq(got, exp, ...)						\
({									\
	long long __g = (long long)(got), __e = (long long)(exp);	\
	int __err = errno;						\
	int __ok = tap_ok(__g == __e, __VA_ARGS__);			\
	if (!__ok)							\
		tap_diag("  expected %lld, got %lld (errno %d: %s) at %s:%d", \
			 __e, __g, __err, strerror(__err), __FILE__, __LINE__); \
	__ok;								\
})

/*
 * Check that a syscall failed with the given errno: ret must be -1 and
 * errno must equal err.
 */
#define tap_errno(ret, err, ...)					\
({									\
	long long __r = (long long)(ret);				\
	int __err = errno, __x = (err);					\
	int __ok = tap_ok(__r == -1 && __err == __x, __VA_ARGS__);	\
	if (!__ok)							\
		tap_diag("  expected -1/%s, got %lld/%s at %s:%d",	\
			 strerrorname_np(__x) ?: "?", __r,		\
			 __r == -1 ? (strerrorname_np(__err) ?: "?") : "-", \
			 __FILE__, __LINE__);				\
	__ok;								\
})

/* Check that a syscall succeeded (ret != -1). */
#define tap_succ(ret, ...)						\
({									\
	long long __r = (long long)(ret);				\
	int __err = errno;						\
	int __ok = tap_ok(__r != -1, __VA_ARGS__);			\
	if (!__ok)							\
		tap_diag("  failed with %s (%s) at %s:%d",		\
			 strerrorname_np(__err) ?: "?", strerror(__err), \
			 __FILE__, __LINE__);				\
	__ok;								\
})

/* Add the counters of a child process (sent over a pipe) to ours. */
static inline void tap_absorb(const struct tap_state *child)
{
	tap_state.passed += child->passed;
	tap_state.failed += child->failed;
	tap_state.skipped += child->skipped;
}

static inline unsigned int tap_failed(void)
{
	return tap_state.failed;
}

/* Print the summary; returns the process exit status (0 iff no failure). */
static inline int tap_done(void)
{
	printf("# %u passed, %u failed, %u skipped\n",
	       tap_state.passed, tap_state.failed, tap_state.skipped);
	fflush(stdout);
	return tap_state.failed ? 1 : 0;
}

#endif /* MQFUSE_SELFTEST_TAP_H */
