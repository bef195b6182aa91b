// SPDX-License-Identifier: GPL-2.0
/*
 * Session: open the device, mount, daemonize, start one pinned
 * run-to-completion thread per queue, wait for signals, unmount.
 *
 * Threads: thread 0 serves the fd used for mount(2) (or --fd); thread i > 0
 * opens the device again and attaches with the CLONE ioctl; on mqfuse each
 * thread then binds its fd to queue i.  Every thread owns its device fd,
 * its buffers (with --transport=ring, the umem of its ring: ring.c) and
 * its io_uring: nothing is handed between threads on the
 * request path, but for a SETLKW that must wait, which goes to a waiter
 * thread of its own (locks.c).  All signals are blocked in the serving
 * threads (the waiters take their wake-up signal only); the main
 * thread takes them with sigwaitinfo().  A serving thread that sees ENODEV
 * (unmounted/aborted) exits; the last one wakes the main thread with
 * SIGUSR2.
 *
 * Sandbox (sandbox.c): everything that needs a path outside the backing
 * directory is opened first (device fds of every thread, /dev/null, the
 * syslog socket, the CPU count), every other descriptor is closed (those
 * inherited from the caller too), then the process confines itself and
 * starts the threads.  When mqfused made the mount, it forks
 * first: the parent stays outside as the *monitor* (only CAP_SYS_ADMIN
 * kept, no device fd) which unmounts on SIGTERM/SIGINT, forwards SIGUSR1
 * and SIGHUP,
 * and exits with the serving child's status; the child serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include <mqfuse.h>

#include "mqfused.h"

#ifndef FUSE_DEV_IOC_CLONE
#define FUSE_DEV_IOC_CLONE	_IOR(229, 0, uint32_t)
#endif

/* Room for requests/replies that are not READ/WRITE (xattr values: 64K). */
#define MQ_MIN_PAYLOAD		(128u << 10)

struct mq_config mq_cfg;
struct mq_conn mq_conn;

static struct mq_thread *mq_threads;
static unsigned int mq_nr_threads;
static atomic_uint mq_threads_running;
static sem_t mq_setup_done;
static int mq_mount_fd = -1;	/* fd served by thread 0 */
static bool mq_we_mounted;
static bool mq_uring_warned;
static int mq_monitor_sock = -1;	/* serving child: socket to the monitor */
static pthread_mutex_t mq_monitor_lock = PTHREAD_MUTEX_INITIALIZER;
static bool mq_monitor_gone_logged;
static int mq_null_fd = -1;	/* /dev/null, opened before the sandbox */
/*
 * The session keeps our recovery state (recovery.c): a serving process
 * that dies leaves the session ORPHANED for a successor, so the monitor
 * must not unmount it.
 */
static bool mq_recovery_on;
/*
 * A successor (--attach, --takeover) given the MOUNTPOINT of the session
 * it serves: SIGTERM unmounts it, as it does for the daemon that mounted.
 * Only on SIGTERM: a successor that fails to start must leave the mount
 * to the next one (mq_we_mounted stays false).
 */
static bool mq_term_unmounts;
/*
 * Hot upgrade (SIGQUIT, a --takeover daemon attached): the serving
 * threads stop reading, finish the request they hold and return; the
 * main thread ends each one's read() (a ring thread's RING_ENTER) with
 * mq_wake_signal, sent again until all are out (one between its look at
 * the flag and read() misses a signal, not the next).  A ring thread
 * finishes the batch it holds and writes its replies (ring.c).
 */
atomic_bool mq_handover;
static int mq_wake_signal;
static pthread_mutex_t mq_warn_lock = PTHREAD_MUTEX_INITIALIZER;

size_t mq_payload_room(void)
{
	return mq_cfg.max_write > MQ_MIN_PAYLOAD ? mq_cfg.max_write :
		MQ_MIN_PAYLOAD;
}

static int mq_thread_buffers(struct mq_thread *thr)
{
	size_t room = mq_payload_room();
	size_t half = MQ_REQ_HDR_ROOM + room + 4096;

	thr->region_len = 2 * half;
	thr->region = mmap(NULL, thr->region_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (thr->region == MAP_FAILED) {
		thr->region = NULL;
		return -ENOMEM;
	}
	/* WRITE payload and READ reply payload both start page aligned. */
	thr->inbuf = thr->region + MQ_REQ_HDR_ROOM - MQ_WRITE_HDR_LEN;
	thr->inbuf_len = MQ_WRITE_HDR_LEN + room + 4096;
	thr->outbuf = thr->region + half + MQ_REQ_HDR_ROOM -
		      sizeof(struct fuse_out_header);
	thr->outbuf_len = sizeof(struct fuse_out_header) + room;
	return 0;
}

static unsigned int mq_nr_queues;	/* mqfuse queues, 0 on FUSE */
static unsigned int mq_nr_cpu_ids;	/* mq_possible_cpus(), read early */
static bool mq_bind_queues;		/* one queue per thread (see below) */

/* Number of possible CPUs (the kernel's nr_cpu_ids), 0 if unknown. */
static unsigned int mq_possible_cpus(void)
{
	unsigned int last = 0;
	char buf[256], *p;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");

	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p)
		return 0;
	/* "0-7" or "0,2-5": the last number is the highest CPU. */
	for (p = buf; *p;) {
		if (*p >= '0' && *p <= '9') {
			char *end;

			last = strtoul(p, &end, 10);
			p = end;
		} else {
			p++;
		}
	}
	return last + 1;
}

/*
 * CPUs whose requests go to @queue.  Mirrors the kernel's cpu_to_queue
 * map (fs/queue.c: queue = cpu * queues / nr_cpu_ids), which is not
 * exported yet; false if the set is empty or unknown.
 */
static bool mq_queue_cpus(unsigned int queue, const cpu_set_t *allowed,
			  cpu_set_t *out)
{
	unsigned int nr_cpu_ids = mq_nr_cpu_ids, cpu;

	CPU_ZERO(out);
	if (!nr_cpu_ids || !mq_nr_queues)
		return false;
	for (cpu = 0; cpu < nr_cpu_ids && cpu < CPU_SETSIZE; cpu++)
		if ((uint64_t)cpu * mq_nr_queues / nr_cpu_ids == queue &&
		    CPU_ISSET(cpu, allowed))
			CPU_SET(cpu, out);
	return CPU_COUNT(out) > 0;
}

/*
 * A thread bound to an mqfuse queue runs on the CPUs that submit to that
 * queue (request and reply stay on one cache); otherwise thread i runs on
 * the i-th allowed CPU.
 */
static void mq_thread_pin(struct mq_thread *thr)
{
	cpu_set_t allowed, set;
	int n, i, cpu = -1, seen = 0;

	thr->cpu = -1;
	if (!mq_cfg.pin || sched_getaffinity(0, sizeof(allowed), &allowed))
		return;
	if (mq_bind_queues && mq_queue_cpus(thr->queue, &allowed, &set)) {
		if (sched_setaffinity(0, sizeof(set), &set)) {
			mq_warn("thread %u: cannot pin to the CPUs of queue %u",
				thr->index, thr->queue);
			return;
		}
		for (i = 0; i < CPU_SETSIZE; i++) {
			if (CPU_ISSET(i, &set)) {
				thr->cpu = i;	/* first of the set */
				break;
			}
		}
		return;
	}
	n = CPU_COUNT(&allowed);
	if (n <= 0)
		return;
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &allowed))
			continue;
		if (seen++ == (int)(thr->index % n)) {
			cpu = i;
			break;
		}
	}
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		mq_warn("thread %u: cannot pin to cpu %d", thr->index, cpu);
	else
		thr->cpu = cpu;
}

/* Device fd of thread @thr, attached to the session (before the sandbox). */
static int mq_thread_open_device(struct mq_thread *thr)
{
	uint32_t src = mq_mount_fd;

	if (thr->index == 0) {
		thr->devfd = mq_mount_fd;
		return 0;
	}
	thr->devfd = open(mq_cfg.devpath, O_RDWR | O_CLOEXEC);
	if (thr->devfd < 0) {
		mq_err("thread %u: open %s: %s", thr->index,
		       mq_cfg.devpath, strerror(errno));
		return -errno;
	}
	if (ioctl(thr->devfd, mq_cfg.fs == MQ_FS_MQFUSE ?
		  MQFUSE_IOC_CLONE : FUSE_DEV_IOC_CLONE, &src)) {
		mq_err("thread %u: clone ioctl: %s", thr->index,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

static int mq_thread_attach(struct mq_thread *thr)
{
	uint32_t q = thr->queue;

	if (mq_bind_queues && ioctl(thr->devfd, MQFUSE_IOC_BIND_QUEUE, &q)) {
		mq_err("thread %u: bind to queue %u: %s", thr->index, q,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

static void mq_uring_warn(int err)
{
	pthread_mutex_lock(&mq_warn_lock);
	if (!mq_uring_warned)
		mq_warn("io_uring unavailable (%s): using pread/pwrite",
			strerror(-err));
	mq_uring_warned = true;
	pthread_mutex_unlock(&mq_warn_lock);
}

/*
 * Transport, buffers and the io_uring of thread @thr, before the sandbox
 * (which allows neither the ring's set-up ioctls nor io_uring_setup()):
 * the ring transport with its umem (ring.c) or the read(2)/write(2)
 * buffers; the io_uring is created disabled with its restrictions
 * (uring_io.c) and the whole region as fixed buffers.  Without an
 * io_uring the thread uses pread/pwrite.
 */
static int mq_thread_prepare_io(struct mq_thread *thr)
{
	int ret;

	mq_ring_prepare(thr);
	if (!thr->ring) {
		ret = mq_thread_buffers(thr);
		if (ret)
			return ret;
	}
	thr->uring = NULL;
	/* a ring thread has up to one operation in flight per buffer */
	thr->uring_err = mq_uring_create(&thr->uring, thr->region,
					 thr->region_len,
					 thr->ring ? mq_ring_buf_size() : 0,
					 mq_ring_depth(thr->ring));
	return 0;
}

static int mq_thread_setup(struct mq_thread *thr)
{
	int ret;

	mq_thread_pin(thr);
	ret = mq_creds_thread_init(thr);
	if (ret)
		return ret;
	ret = mq_stats_thread_init(&thr->stats);
	if (ret)
		return ret;
	mq_stats_set_transport(&thr->stats, mq_ring_depth(thr->ring),
			       mq_ring_buf_size());
	ret = mq_thread_attach(thr);
	if (ret)
		return ret;
	if (mq_cfg.remote) {
		ret = mq_remote_thread_start(thr);
		if (ret)
			return ret;
	}
	/* Created (disabled, restricted) before the sandbox: enable here. */
	ret = thr->uring ? mq_uring_enable(thr->uring) : thr->uring_err;
	if (ret) {
		mq_uring_teardown(thr->uring);
		thr->uring = NULL;
		mq_uring_warn(ret);
	}
	return 0;
}

/*
 * Read and serve requests until the session goes away.  Only ENODEV
 * (unmounted or aborted) ends a thread: any other read error is retried,
 * since a thread that exits leaves its queue unserved.  A ring thread
 * serves from its ring (ring.c, the same rules) and comes here only if
 * the ring fails.
 */
static void mq_thread_loop(struct mq_thread *thr)
{
	unsigned long errors = 0;
	sigset_t wake;
	ssize_t n;

	/* only the serving threads take it: it ends read() or ENTER (EINTR) */
	sigemptyset(&wake);
	sigaddset(&wake, mq_wake_signal);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	if (thr->ring && mq_ring_serve(thr) != -EOPNOTSUPP)
		return;
	for (;;) {
		/* between two requests: the one read last is answered */
		if (atomic_load_explicit(&mq_handover, memory_order_acquire)) {
			mq_info("thread %u: handing over", thr->index);
			return;
		}
		n = read(thr->devfd, thr->inbuf, thr->inbuf_len);
		if (n < 0) {
			int err = errno;

			if (err == ENODEV) {
				mq_info("thread %u: session ended", thr->index);
				return;
			}
			/* EINTR, EAGAIN; ENOENT: the request was interrupted. */
			if (err == EINTR || err == EAGAIN || err == ENOENT)
				continue;
			/* Log the first and then every 1000th; do not spin. */
			if (errors++ % 1000 == 0)
				mq_err("thread %u: read from device: %s (%lu errors)",
				       thr->index, strerror(err), errors);
			usleep(errors > 10 ? 10000 : 100);
			continue;
		}
		errors = 0;
		if (mq_cfg.remote &&
		    ((const struct fuse_in_header *)thr->inbuf)->opcode != FUSE_INIT) {
			if (mq_remote_forward(thr, n) == -ENODEV)
				return;
			continue;
		}
		if (mq_dispatch(thr, n) == -ENODEV) {
			mq_info("thread %u: DESTROY received", thr->index);
			return;
		}
	}
}

static void *mq_thread_main(void *arg)
{
	struct mq_thread *thr = arg;
	char name[16];

	/* "mqfused/T": ps and the tests tell the serving threads apart. */
	snprintf(name, sizeof(name), "mqfused/%u", thr->index);
	pthread_setname_np(pthread_self(), name);

	thr->setup_err = mq_thread_setup(thr);
	sem_post(&mq_setup_done);
	if (thr->setup_err)
		return NULL;
	mq_thread_loop(thr);
	if (atomic_fetch_sub(&mq_threads_running, 1) == 1)
		kill(getpid(), SIGUSR2);
	return NULL;
}

/* Threads wanted when --threads is absent. */
static unsigned int mq_default_threads(void)
{
	struct mqfuse_session_info info;
	cpu_set_t allowed;
	int n = 0;

	if (mq_cfg.fs == MQ_FS_MQFUSE) {
		memset(&info, 0, sizeof(info));
		if (!ioctl(mq_mount_fd, MQFUSE_IOC_GET_INFO, &info) &&
		    info.nr_queues)
			return info.nr_queues;
		if (mq_cfg.queues_opt)
			return mq_cfg.queues_opt;
	}
	if (!sched_getaffinity(0, sizeof(allowed), &allowed))
		n = CPU_COUNT(&allowed);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

/* Thread count, queue binding, device fds: what needs paths or ioctls. */
static int mq_plan_threads(void)
{
	unsigned int i, nr_queues = 0;
	struct mqfuse_session_info info;
	int ret;

	mq_nr_cpu_ids = mq_possible_cpus();
	mq_nr_threads = mq_cfg.threads ?: mq_default_threads();
	if (mq_cfg.fs == MQ_FS_MQFUSE) {
		memset(&info, 0, sizeof(info));
		if (!ioctl(mq_mount_fd, MQFUSE_IOC_GET_INFO, &info))
			nr_queues = info.nr_queues;
		else
			nr_queues = mq_cfg.queues_opt;
	}
	/*
	 * With at least one thread per queue each thread binds to one queue.
	 * With fewer threads than queues, binding would leave queues without
	 * a reader: the fds stay unbound, and an unbound fd serves every
	 * queue (uapi/mqfuse.h, MQFUSE_IOC_BIND_QUEUE).
	 */
	mq_nr_queues = nr_queues;
	mq_bind_queues = nr_queues && mq_nr_threads >= nr_queues;
	if (nr_queues && !mq_bind_queues)
		mq_warn("%u thread(s) for %u queues: every thread serves every queue",
			mq_nr_threads, nr_queues);
	mq_threads = calloc(mq_nr_threads, sizeof(*mq_threads));
	if (!mq_threads)
		return -ENOMEM;
	for (i = 0; i < mq_nr_threads; i++) {
		struct mq_thread *thr = &mq_threads[i];

		thr->index = i;
		thr->queue = nr_queues ? i % nr_queues : i;
		ret = mq_thread_open_device(thr);
		if (!ret)
			ret = mq_thread_prepare_io(thr);
		if (ret)
			return ret;
	}
	return 0;
}

static int mq_start_threads(void)
{
	unsigned int i;
	int ret;

	sem_init(&mq_setup_done, 0, 0);
	mq_stats_register_threads(mq_threads, 0);
	atomic_store(&mq_threads_running, mq_nr_threads);
	for (i = 0; i < mq_nr_threads; i++) {
		struct mq_thread *thr = &mq_threads[i];

		ret = pthread_create(&thr->tid, NULL, mq_thread_main, thr);
		if (ret)
			return -ret;
		sem_wait(&mq_setup_done);
		if (thr->setup_err)
			return thr->setup_err;
		mq_stats_register_threads(mq_threads, i + 1);
	}
	mq_info("serving with %u thread(s)%s, %s", mq_nr_threads,
		mq_threads[0].uring ? ", io_uring with fixed buffers" : "",
		mq_threads[0].ring ? "ring transport" : "read/write transport");
	return 0;
}

static int mq_open_device(void)
{
	int fd = open(mq_cfg.devpath, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		mq_err("cannot open %s: %s%s", mq_cfg.devpath, strerror(err),
		       mq_cfg.fs == MQ_FS_FUSE ? " (modprobe fuse?)" : "");
		return -err;
	}
	return fd;
}

static int mq_do_mount(int fd)
{
	struct stat st;
	char *data, rec[32];
	bool defaulted;
	int ret;

	if (mq_cfg.remote)
		st.st_mode = S_IFDIR;	/* the server's root is a directory */
	else if (stat(mq_cfg.backend_dir, &st))
		return -errno;
	/* recovery= last, so that a refusing module can be retried without */
	defaulted = mq_cfg.fs == MQ_FS_MQFUSE && mq_cfg.recovery_default &&
		    !(mq_cfg.kernel_opts && (!strncmp(mq_cfg.kernel_opts, "recovery=", 9) ||
					     strstr(mq_cfg.kernel_opts, ",recovery=")));
	snprintf(rec, sizeof(rec), ",recovery=%u", mq_cfg.recovery_default);
	if (asprintf(&data, "fd=%d,rootmode=%o,user_id=%u,group_id=%u%s%s%s%s",
		     fd, st.st_mode & S_IFMT, getuid(), getgid(),
		     mq_cfg.default_permissions ? ",default_permissions" : "",
		     mq_cfg.kernel_opts && *mq_cfg.kernel_opts ? "," : "",
		     mq_cfg.kernel_opts ?: "", defaulted ? rec : "") < 0)
		return -ENOMEM;
	mq_info("mount -t %s -o %s %s %s", mq_cfg.fstype, data, mq_cfg.source,
		mq_cfg.mountpoint);
	ret = mount(mq_cfg.source, mq_cfg.mountpoint, mq_cfg.fstype,
		    mq_cfg.mount_flags, data);
	if (ret && errno == EINVAL && defaulted) {
		/* A module without recovery=: mount without, say so. */
		mq_warn("%s does not take recovery=: mounted without crash recovery",
			mq_cfg.fstype);
		*strrchr(data, ',') = '\0';
		ret = mount(mq_cfg.source, mq_cfg.mountpoint, mq_cfg.fstype,
			    mq_cfg.mount_flags, data);
	}
	if (ret) {
		ret = -errno;
		mq_err("mount %s on %s (type %s, options %s): %s",
		       mq_cfg.source, mq_cfg.mountpoint, mq_cfg.fstype, data,
		       strerror(-ret));
	}
	free(data);
	return ret;
}

static void mq_unmount(void)
{
	if (!mq_we_mounted)
		return;
	if (umount2(mq_cfg.mountpoint, MNT_DETACH) && errno != EINVAL &&
	    errno != ENOENT)
		mq_warn("umount %s: %s", mq_cfg.mountpoint, strerror(errno));
	mq_we_mounted = false;
}

/*
 * Fork; the parent waits until the child reports that the session is
 * served (status 0) or failed, and exits with that status.  Returns in the
 * child with the write end of the status pipe.
 */
static int mq_daemonize(void)
{
	int pfd[2];
	char status = 1;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(pfd[0]);
	setsid();
	return pfd[1];
}

/* Daemonize (mq_daemonize()) with /dev/null ready for the detach. */
static int mq_start_detached(int *status_fd)
{
	mq_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	*status_fd = mq_daemonize();
	if (*status_fd < 0) {
		mq_err("daemonize: %s", strerror(-*status_fd));
		return *status_fd;
	}
	return 0;
}

static void mq_daemon_detach_stdio(int status_fd)
{
	char ok = 0;
	int null = mq_null_fd;

	/* Sandboxed, the working directory is procfs (sandbox.c). */
	if (mq_cfg.sandbox == MQ_SANDBOX_NONE && chdir("/"))
		mq_warn("chdir /: %s", strerror(errno));
	mq_log_detach_stdio(null);
	if (null > 2)
		close(null);
	mq_null_fd = -1;
	if (write(status_fd, &ok, 1) != 1)
		mq_warn("cannot report startup status");
	close(status_fd);
}

static int mq_detect_fd_kind(int fd)
{
	struct mqfuse_session_info info;
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if ((size_t)n >= sizeof(mq_cfg.devpath))
		return -ENAMETOOLONG;
	memcpy(mq_cfg.devpath, target, n + 1);
	memset(&info, 0, sizeof(info));
	if (!ioctl(fd, MQFUSE_IOC_GET_INFO, &info)) {
		mq_cfg.fs = MQ_FS_MQFUSE;
		if (!mq_cfg.queues_opt)
			mq_cfg.queues_opt = info.nr_queues;
	} else {
		mq_cfg.fs = MQ_FS_FUSE;
	}
	return 0;
}

/*
 * Requests of the serving process to the monitor, over a SOCK_SEQPACKET
 * pair made before the fork: the caller's groups (the serving process has
 * no view of the callers' /proc), and "unmount".  One request at a time,
 * answered before the next; a dead monitor answers nothing (EOF/EPIPE).
 */
enum { MQ_MON_GROUPS = 1, MQ_MON_UNMOUNT = 2, MQ_MON_STATS = 3 };

/* MQ_MON_STATS: the request header is followed by the stats text. */
#define MQ_MON_MSG_MAX	(256 * 1024)

struct mq_mon_req {
	uint32_t op, pid, uid, gid;
};

struct mq_mon_rep {
	int32_t nr;
	uint32_t groups[MQ_MAX_CALLER_GROUPS];
};

static int mq_monitor_query(uint32_t op, uint32_t pid, uint32_t uid,
			    uint32_t gid, gid_t *groups, int max,
			    const void *data, size_t len)
{
	struct mq_mon_req req = { .op = op, .pid = pid, .uid = uid, .gid = gid };
	struct mq_mon_rep rep;
	char *msg = (char *)&req;
	ssize_t n;
	int i, nr;

	if (mq_monitor_sock < 0)
		return -ENOTCONN;
	if (sizeof(req) + len > MQ_MON_MSG_MAX)
		return -EMSGSIZE;
	if (len) {
		/* one datagram (seccomp allows send(), not sendmsg()) */
		msg = malloc(sizeof(req) + len);
		if (!msg)
			return -ENOMEM;
		memcpy(msg, &req, sizeof(req));
		memcpy(msg + sizeof(req), data, len);
	}
	pthread_mutex_lock(&mq_monitor_lock);
	n = send(mq_monitor_sock, msg, sizeof(req) + len, MSG_NOSIGNAL);
	if (msg != (char *)&req)
		free(msg);
	if (n == (ssize_t)(sizeof(req) + len)) {
		do {
			n = recv(mq_monitor_sock, &rep, sizeof(rep), 0);
		} while (n < 0 && errno == EINTR);
	} else {
		n = -1;
	}
	/* MQ_MON_STATS answers 0 or a negative errno of the write */
	if (op == MQ_MON_STATS && n >= (ssize_t)sizeof(rep.nr) && rep.nr <= 0) {
		pthread_mutex_unlock(&mq_monitor_lock);
		return rep.nr;
	}
	if (n < (ssize_t)sizeof(rep.nr) || rep.nr < 0 ||
	    (size_t)n < sizeof(rep.nr) + rep.nr * sizeof(rep.groups[0])) {
		if (!mq_monitor_gone_logged)
			mq_err("the monitor does not answer: callers' supplementary groups are not used");
		mq_monitor_gone_logged = true;
		pthread_mutex_unlock(&mq_monitor_lock);
		return -EPIPE;
	}
	pthread_mutex_unlock(&mq_monitor_lock);
	nr = rep.nr < max ? rep.nr : max;
	for (i = 0; i < nr; i++)
		groups[i] = rep.groups[i];
	return nr;
}

int mq_monitor_groups(uint32_t pid, uint32_t uid, uint32_t gid,
		      gid_t *groups, int max)
{
	return mq_monitor_query(MQ_MON_GROUPS, pid, uid, gid, groups, max, NULL, 0);
}

/* Sandboxed: the monitor (outside) writes the stats file. */
bool mq_monitor_active(void)
{
	return mq_monitor_sock >= 0;
}

/* The monitor's answer: nr = 0 written, nr < 0 a negative errno. */
int mq_monitor_stats(const char *buf, size_t len)
{
	return mq_monitor_query(MQ_MON_STATS, 0, 0, 0, NULL, 0, buf, len);
}

/*
 * The signals the session acts on, taken with sigwaitinfo() or a signalfd
 * (blocked in every thread): end (TERM, INT), ignored (HUP), write the
 * stats (USR1), invalidate the kernel's caches (HUP), the last serving
 * thread is gone (USR2).
 */
static void mq_session_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGQUIT);
}

/*
 * SIGHUP: the backing directory changed behind the kernel's back (a
 * dataset replaced under consistency=immutable, a restore): tell the
 * kernel every name and attribute it cached is stale
 * (FUSE_NOTIFY_INC_EPOCH, no payload). A kernel without it (stock FUSE
 * before 6.16) refuses the notification: say so.
 */
static void mq_notify_epoch(void)
{
	struct fuse_out_header h = {
		.len = sizeof(h),
		.error = MQ_NOTIFY_INC_EPOCH,
	};

	if (write(mq_threads[0].devfd, &h, sizeof(h)) != (ssize_t)sizeof(h))
		mq_warn("SIGHUP: invalidating the kernel's caches: %s",
			strerror(errno));
	else
		mq_info("SIGHUP: the kernel's cached names and attributes invalidated");
}

static void mq_wake_handler(int sig)
{
	(void)sig;	/* only to end a read() with EINTR */
}

/* The wake-up of the serving threads: a handler without SA_RESTART. */
static int mq_wake_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mq_wake_handler;
	mq_wake_signal = SIGRTMIN + 2;	/* +1 is locks.c's */
	if (mq_wake_signal > SIGRTMAX || sigaction(mq_wake_signal, &sa, NULL))
		return -EINVAL;
	return 0;
}

/*
 * SIGQUIT: hand the session over to the daemon that attached, in two
 * steps.  First stop every serving thread between two requests and
 * release our device fds: the successor sees the session's "daemons"
 * drop to its own and reads the state (no writing needed: every record
 * is written before the reply it backs).  What a lock waiter still holds
 * (a SETLKW) is requeued by the kernel then and replayed to the
 * successor, as is anything a thread still held after 10 s (the
 * successor SIGKILLs us after 5 s anyway).  Then keep our backing fds
 * open until the successor has re-opened the objects by file handle and
 * says so (SIGQUIT again): a file unlinked while open, held by nothing
 * but us, would otherwise be freed and its handle come back stale.
 */
static void mq_hand_over(void)
{
	struct timespec tick = { 0, 2 * 1000 * 1000 }, go = { .tv_sec = 10 };
	unsigned int i, rounds;
	sigset_t set;

	atomic_store_explicit(&mq_handover, true, memory_order_release);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	for (rounds = 0; atomic_load(&mq_threads_running); rounds++) {
		if (rounds == 5000) {
			mq_warn("hand-over: %u thread(s) still busy after 10 s: exiting, the kernel replays what they hold",
				atomic_load(&mq_threads_running));
			break;
		}
		/* a thread gone already ignores it (joinable: tid valid) */
		for (i = 0; i < mq_nr_threads; i++)
			pthread_kill(mq_threads[i].tid, mq_wake_signal);
		sigtimedwait(&set, NULL, &tick);
	}
	/*
	 * Release the device fds, keeping their numbers (the root's O_PATH
	 * fd over them): a lock waiter answering late gets EBADF, not a
	 * backing file that took the number. A ring's mapping holds its fd's
	 * file too: unmapped first when every thread stopped (a thread still
	 * busy keeps it until the process exits).
	 */
	for (i = 0; i < mq_nr_threads; i++) {
		if (!atomic_load(&mq_threads_running))
			mq_ring_unmap(mq_threads[i].ring);
		if (dup3(mq_itable_root_fd(), mq_threads[i].devfd, O_CLOEXEC) < 0)
			mq_warn("hand-over: releasing thread %u's device fd: %s",
				i, strerror(errno));
	}
	mq_info("hand-over: every serving thread stopped, device fds released");
	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigtimedwait(&set, NULL, &go) < 0)
		mq_warn("hand-over: no word from the successor in 10 s: exiting");
}

/*
 * Wait for signals until the session should end.  Returns true for a
 * hand-over (the mount stays), false when it ended or was unmounted.
 */
static bool mq_wait_signals(void)
{
	sigset_t set;
	struct timespec ts = { .tv_sec = 2 };
	siginfo_t si;
	int sig;

	mq_session_signals(&set);
	for (;;) {
		sig = sigwaitinfo(&set, &si);
		if (sig == SIGUSR1) {
			int ret = mq_stats_write(mq_cfg.stats_path);

			if (ret)
				mq_warn("writing stats: %s", strerror(-ret));
			continue;
		}
		if (sig == SIGHUP) {
			mq_notify_epoch();
			continue;
		}
		if (sig == SIGUSR2 && !atomic_load(&mq_threads_running))
			return false;
		if (sig == SIGQUIT) {
			if (!mq_recovery_on) {
				mq_warn("SIGQUIT: no recovery state (mounted without recovery=): nobody can take over, ignored");
				continue;
			}
			mq_info("SIGQUIT: handing the session over");
			mq_hand_over();
			return true;
		}
		if (sig != SIGTERM && sig != SIGINT)
			continue;
		/*
		 * Sandboxed, the mount is out of reach: the monitor unmounts
		 * (and answers once done).  Its own SIGTERM comes here too.
		 */
		if (mq_monitor_sock >= 0 &&
		    mq_monitor_query(MQ_MON_UNMOUNT, 0, 0, 0, NULL, 0, NULL, 0) < 0)
			mq_warn("asking the monitor to unmount: no answer");
		break;
	}
	mq_info("signal %d: unmounting", sig);
	if (mq_term_unmounts)
		mq_we_mounted = true;
	mq_unmount();
	/* Give the threads a moment to see ENODEV and finish requests. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	while (atomic_load(&mq_threads_running)) {
		if (sigtimedwait(&set, NULL, &ts) < 0 && errno == EAGAIN)
			break;
	}
	return false;
}

static void mq_block_signals(void)
{
	sigset_t set;

	mq_session_signals(&set);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGCHLD);	/* the monitor waits for it */
	/* only a lock waiter takes its wake-up signal (locks.c) */
	mq_locks_block_signal(&set);
	/* only a serving thread takes the hand-over wake-up */
	if (mq_wake_signal)
		sigaddset(&set, mq_wake_signal);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * Close every descriptor but 0-2, the @nr in @keep and the log socket
 * (closed and connected again: glibc keeps its number to itself).
 */
static int mq_close_fds_but(const int *keep, unsigned int nr)
{
	bool syslog_open = mq_log_close_syslog();
	int ret = mq_sandbox_close_fds(keep, nr);

	if (syslog_open)
		mq_log_open_syslog();
	return ret;
}

/*
 * Capabilities of the monitor: CAP_SYS_ADMIN for umount2(), nothing else.
 * Not dumpable, so the sandboxed child (same uid, a superset of these
 * capabilities) cannot reach the host's tree through /proc/PID/root.
 */
static int mq_monitor_confine(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		mq_err("monitor: PR_SET_DUMPABLE: %s", strerror(errno));
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].permitted = CAP_TO_MASK(CAP_SYS_ADMIN);
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective = CAP_TO_MASK(CAP_SYS_ADMIN);
	if (syscall(SYS_capset, &hdr, data)) {
		mq_err("monitor: dropping capabilities: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int mq_monitor_status(pid_t child, int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);

		if (sig == SIGSYS)
			mq_err("serving process %d made a system call outside the sandbox's allow-list (see the audit log; --sandbox=log to find it)",
			       (int)child);
		else
			mq_err("serving process %d killed by signal %d (%s)",
			       (int)child, sig, strsignal(sig));
		return 128 + sig;
	}
	return 1;
}

/* One request of the serving process; non-zero when it is gone. */
static int mq_monitor_serve(int sock)
{
	static char msg[MQ_MON_MSG_MAX];
	struct mq_mon_req req;
	struct mq_mon_rep rep = { 0 };
	gid_t groups[MQ_MAX_CALLER_GROUPS];
	ssize_t n = recv(sock, msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC);
	int i;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < (ssize_t)sizeof(req) || n > (ssize_t)sizeof(msg))
		return 1;
	memcpy(&req, msg, sizeof(req));
	if (req.op != MQ_MON_STATS && n != sizeof(req))
		return 1;
	if (req.op == MQ_MON_GROUPS) {
		/* Only read: no capability needed for /proc/PID/status. */
		rep.nr = mq_proc_groups("/proc/", req.pid, req.uid, req.gid,
					groups, MQ_MAX_CALLER_GROUPS);
		for (i = 0; i < rep.nr; i++)
			rep.groups[i] = groups[i];
	} else if (req.op == MQ_MON_UNMOUNT && (mq_we_mounted || mq_term_unmounts)) {
		mq_info("monitor: unmounting for the serving process");
		mq_we_mounted = true;
		mq_unmount();
	} else if (req.op == MQ_MON_STATS) {
		/* the text is the serving process's; the path is ours */
		rep.nr = mq_cfg.stats_path ?
			 mq_stats_write_text(mq_cfg.stats_path, msg + sizeof(req),
					     n - sizeof(req)) : 0;
	}
	n = sizeof(rep.nr) + (rep.nr > 0 ? rep.nr : 0) * sizeof(rep.groups[0]);
	return send(sock, &rep, n, MSG_NOSIGNAL) == n ? 0 : 1;
}

/*
 * The monitor's way out when the session cannot go on: reap the serving
 * process (killed first if @kill_child), then undo the mount nobody
 * serves.  Exits with the child's status (1 if killed here or if it
 * exited 0 without serving).
 */
static void __attribute__((noreturn)) mq_monitor_bail_out(pid_t child,
							   bool kill_child)
{
	int wstatus = 0, ret;

	if (kill_child)
		kill(child, SIGKILL);
	while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR)
		;
	mq_unmount();
	ret = kill_child ? 1 : mq_monitor_status(child, wstatus);
	_exit(ret ?: 1);
}

/*
 * The monitor: stays outside the sandbox with the mount.  @ready_fd gets
 * one byte once the child serves, EOF if it failed before (then the mount
 * is undone here, as mqfused did when setup failed).  Never returns.
 */
static void mq_monitor_run(pid_t child, int ready_fd, int status_fd, int sock)
{
	const int keep[] = { ready_fd, status_fd, sock, mq_null_fd };
	struct pollfd pfd[2];
	sigset_t set;
	int wstatus, sig, sfd;
	ssize_t n;
	char c;

	close(mq_mount_fd);	/* a dead child must end the session */
	mq_session_signals(&set);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* Nothing inherited either (a caller's pipe would never see EOF). */
	if (mq_close_fds_but(keep, sizeof(keep) / sizeof(keep[0])))
		mq_monitor_bail_out(child, true);

	do {
		n = read(ready_fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	close(ready_fd);
	if (n != 1)
		mq_monitor_bail_out(child, false);
	/* An unconfined monitor is no better than no sandbox: stop. */
	if (mq_monitor_confine())
		mq_monitor_bail_out(child, true);
	if (status_fd >= 0) {
		/* The child reported success to the parent: detach as it did. */
		close(status_fd);
		mq_log_detach_stdio(mq_null_fd);
		if (chdir("/"))
			mq_warn("monitor: chdir /: %s", strerror(errno));
	}
	if (mq_null_fd > 2)
		close(mq_null_fd);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		mq_err("monitor: signalfd: %s", strerror(errno));
		mq_monitor_bail_out(child, true);
	}
	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sock;
	pfd[1].events = POLLIN;
	for (;;) {
		struct signalfd_siginfo ssi;

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents) {
			if (mq_monitor_serve(sock))
				pfd[1].fd = -1;	/* child gone: SIGCHLD next */
		}
		if (!(pfd[0].revents & POLLIN) ||
		    read(sfd, &ssi, sizeof(ssi)) != sizeof(ssi))
			continue;
		sig = ssi.ssi_signo;
		switch (sig) {
		case SIGTERM:
		case SIGINT:
			if (mq_we_mounted || mq_term_unmounts) {
				mq_info("monitor: signal %d: unmounting", sig);
				mq_we_mounted = true;
				mq_unmount();
			}
			kill(child, SIGTERM);
			break;
		case SIGQUIT:	/* hand-over: the child exits 0, the mount stays */
		case SIGUSR1:
		case SIGHUP:
			kill(child, sig);
			break;
		case SIGCHLD:
			if (waitpid(child, &wstatus, WNOHANG) != child)
				break;
			/*
			 * A clean exit follows the end of the session (ENODEV,
			 * DESTROY): the mount is gone.  Anything else left a
			 * mount nobody serves: undo it before going.
			 */
			sig = mq_monitor_status(child, wstatus);
			if (sig && mq_we_mounted && mq_recovery_on) {
				mq_info("monitor: serving process gone: the session waits for a successor (mqfused --attach)");
			} else if (sig && mq_we_mounted) {
				mq_info("monitor: serving process gone: unmounting");
				mq_unmount();
			}
			_exit(sig);
		default:
			break;
		}
	}
}

/*
 * Fork the monitor (parent) and the serving process (child).  Returns in
 * the child with *@ready_fd to report that it serves.
 */
static int mq_monitor_fork(int status_fd, int *ready_fd)
{
	char comm[16] = "";
	int pfd[2], sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	if (pipe2(pfd, O_CLOEXEC)) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	/*
	 * The serving process keeps the program's name (ps, pgrep -x
	 * mqfused and the thread names find it); the monitor is renamed.
	 */
	prctl(PR_GET_NAME, comm, 0, 0, 0);
	prctl(PR_SET_NAME, "mqfused-monitor", 0, 0, 0);
	/* The serving process: PID 1 of its own PID namespace. */
	pid = mq_sandbox_fork();
	if (pid < 0) {
		int err = errno;

		prctl(PR_SET_NAME, comm, 0, 0, 0);
		close(pfd[0]);
		close(pfd[1]);
		close(sv[0]);
		close(sv[1]);
		return -err;
	}
	if (pid > 0) {
		close(pfd[1]);
		close(sv[1]);
		mq_monitor_run(pid, pfd[0], status_fd, sv[0]);
	}
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	close(pfd[0]);
	close(sv[0]);
	/*
	 * The pair lives and dies together: no server without its unmounter.
	 * (The parent is outside this PID namespace: getppid() is 0.  A
	 * monitor dead before this point fails the ready report instead.)
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	mq_monitor_sock = sv[1];
	mq_we_mounted = false;	/* the monitor's job now */
	mq_term_unmounts = false;
	*ready_fd = pfd[1];
	return 0;
}

/*
 * Close every descriptor the serving process does not use: anything
 * inherited from whoever started mqfused (only --fd is meant for it) and
 * anything opened and left open so far.  Kept: the device fd and io_uring
 * ring of every thread, the backing root, the monitor's socket, the
 * start-up pipes (@ready_fd, @status_fd), /dev/null and, in a successor
 * (--attach), the inodes and handles restore.c re-opened.
 */
static int mq_close_unneeded_fds(int ready_fd, int status_fd)
{
	/* a successor's restored inodes and handles (none otherwise) */
	unsigned int nr_inodes = mq_itable_fds(NULL, 0);
	unsigned int nr_handles = mq_handles_fds(NULL, 0);
	unsigned int nr = 0, i, room;
	int *keep, ret;

	room = 2 * mq_nr_threads + 5 + nr_inodes + nr_handles;
	keep = calloc(room, sizeof(*keep));
	if (!keep)
		return -ENOMEM;
	keep[nr++] = mq_itable_root_fd();
	keep[nr++] = mq_monitor_sock;
	keep[nr++] = ready_fd;
	keep[nr++] = status_fd;
	keep[nr++] = mq_null_fd;
	for (i = 0; i < mq_nr_threads; i++) {
		keep[nr++] = mq_threads[i].devfd;
		keep[nr++] = mq_uring_fd(mq_threads[i].uring);
	}
	/* nothing opens or closes a table's fd before the threads start */
	i = mq_itable_fds(keep + nr, nr_inodes);
	nr += i < nr_inodes ? i : nr_inodes;
	i = mq_handles_fds(keep + nr, nr_handles);
	nr += i < nr_handles ? i : nr_handles;
	ret = mq_close_fds_but(keep, nr);
	free(keep);
	return ret;
}

/* What the sandbox will hide: open it now. */
static int mq_sandbox_prepare(void)
{
	/* glibc reads /etc/localtime once, for syslog's time stamps. */
	tzset();
	if (!mq_cfg.foreground || mq_cfg.syslog)
		mq_log_open_syslog();
	return 0;
}

int mq_session_run(void)
{
	int status_fd = -1, ready_fd = -1, ret;
	bool sandbox = mq_cfg.sandbox != MQ_SANDBOX_NONE;
	bool handover;
	char ok = 0;

	/*
	 * SIGCHLD ignored through exec (SIG_IGN is inherited) would have the
	 * kernel reap the serving process without a SIGCHLD: its monitor
	 * would never see it die nor undo the mount nobody serves.
	 */
	signal(SIGCHLD, SIG_DFL);
	ret = mq_wake_init();
	if (ret) {
		mq_err("no real-time signal for the hand-over wake-up");
		return ret;
	}
	mq_block_signals();
	/*
	 * A successor detaches before it attaches: the kernel names the
	 * attaching process as the session's daemon_pid, which must be one
	 * that lives as long as the daemon (its monitor, or itself) for the
	 * next --takeover to find it, not a parent about to exit.
	 */
	if (mq_cfg.attach && !mq_cfg.foreground) {
		ret = mq_start_detached(&status_fd);
		if (ret)
			return ret;
	}
	if (mq_cfg.attach) {
		int *extra[2] = { &status_fd, &mq_null_fd };

		ret = mq_recovery_attach(mq_cfg.attach, &mq_mount_fd, extra, 2);
		if (ret)
			return ret;
		mq_recovery_on = true;
		mq_term_unmounts = mq_recovery_owns_mountpoint();
	} else if (mq_cfg.serve_fd >= 0) {
		mq_mount_fd = mq_cfg.serve_fd;
		ret = mq_detect_fd_kind(mq_mount_fd);
		if (ret) {
			mq_err("--fd %d: %s", mq_mount_fd, strerror(-ret));
			return ret;
		}
	} else {
		mq_mount_fd = mq_open_device();
		if (mq_mount_fd < 0)
			return mq_mount_fd;
		ret = mq_do_mount(mq_mount_fd);
		if (ret)
			return ret;
		mq_we_mounted = true;
		if (mq_cfg.fs == MQ_FS_MQFUSE)
			mq_recovery_on = mq_recovery_new_session(mq_mount_fd) > 0;
	}
	if (!mq_cfg.foreground && !mq_cfg.attach) {
		ret = mq_start_detached(&status_fd);
		if (ret)
			goto err_unmount;
	} else if (mq_cfg.status_fd >= 0) {
		/* --supervise's first daemon: reported like a daemonized one */
		mq_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		status_fd = mq_cfg.status_fd;
		mq_cfg.status_fd = -1;
	}
	/* Also without a mount of ours (--fd): the PID namespace, groups. */
	if (sandbox) {
		ret = mq_monitor_fork(status_fd, &ready_fd);
		if (ret) {
			mq_err("starting the monitor: %s", strerror(-ret));
			goto err_unmount;
		}
	}
	ret = mq_plan_threads();
	if (!ret)
		ret = mq_close_unneeded_fds(ready_fd, status_fd);
	if (!ret && sandbox)
		ret = mq_sandbox_prepare();
	if (ret) {
		mq_err("starting threads: %s", strerror(-ret));
		goto err_unmount;
	}
	/* mount(2) and the RLIMIT_NOFILE raise are done: shed the rest. */
	ret = mq_sandbox_enter(mq_cfg.sandbox, mq_cfg.backend_dir,
			       mq_itable_root_fd(), mq_monitor_sock);
	if (ret) {
		mq_err("%s: %s", sandbox ? "entering the sandbox" :
		       "dropping capabilities", strerror(-ret));
		goto err_unmount;
	}
	ret = mq_start_threads();
	if (ret) {
		mq_err("starting threads: %s", strerror(-ret));
		goto err_unmount;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, &ok, 1) != 1) {
			mq_err("cannot report to the monitor: exiting");
			_exit(1);
		}
		close(ready_fd);
	}
	if (status_fd >= 0)
		mq_daemon_detach_stdio(status_fd);

	handover = mq_wait_signals();
	ret = mq_stats_write(mq_cfg.stats_path);
	if (ret)
		mq_warn("writing stats: %s", strerror(-ret));
	mq_info(handover ? "handed over: exiting, the mount stays" : "exiting");
	return 0;

err_unmount:
	mq_unmount();
	return ret;
}
