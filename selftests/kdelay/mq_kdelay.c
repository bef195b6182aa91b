// SPDX-License-Identifier: GPL-2.0
/*
 * mq_kdelay: a test-only module that widens a race window in mqfuse by
 * delaying a chosen point, so that a race the suites could only hit by
 * luck happens on (nearly) every run. Loaded by a test around one
 * scenario, never by users; needs CONFIG_KPROBES (symbol lookup) and, for
 * sleep_us=, CONFIG_DYNAMIC_FTRACE.
 *
 * Two modes. Busy-wait (a kprobe):
 *
 *   func=F              delay on entry to F ("module:F" picks the module), or, with
 *   after=G             delay right after each direct call to G inside F
 *                       (for instance after=_raw_spin_unlock: a window just
 *                       after F drops a lock)
 *   delay_us=N          busy wait per hit (default 20000)
 *   max_hits=N          delay only the first N hits (0: all); hits are
 *                       counted anyway, in /sys/module/mq_kdelay/parameters/hits
 *
 *   optional=1          with after=: load even when F has no call to G
 *                       (nr_sites reads 0; the caller decides what that means)
 *
 * Loading fails (-ENOENT) when F does not exist or no call to G is found
 * in it, so a test never runs believing a window was widened when it was
 * not.
 *
 * The wait runs in the kprobe handler with preemption off (and, for a
 * probe that is not at a function entry, interrupts off too): it widens
 * windows between two CPUs, never windows that need this CPU to schedule
 * or an RCU grace period to end. G must be kprobe-able (it is resolved
 * with a kprobe); call-depth-tracking thunks (retbleed=stuff) hide the
 * calls and loading fails with -ENOENT.
 *
 * Sleep (an ftrace hook that redirects the call):
 *
 *   sleep_us=N          sleep N us (at most 10 s) before each call to F
 *   func=F              as above (its entry must be an ftrace location)
 *   caller=C            only calls made from inside function C ("mod:C"
 *                       allowed): the return address lies in C (default:
 *                       every caller)
 *   max_hits=N          as above
 *
 * F's entry is hooked with an IPMODIFY ftrace_ops; a matching call goes to
 * a wrapper that sleeps, calls F with the same six register arguments and
 * returns F's value. So F must take at most six integer or pointer
 * arguments (x86-64: all in registers) and no struct by value or argument
 * on the stack; nothing checks that. A call from C that the compiler made
 * a tail call (jmp) returns to C's caller and does not match. The wrapper
 * sleeps only where the caller may: preemptible() and outside any RCU
 * read-side section (checkable with CONFIG_PREEMPT_RCU); elsewhere the
 * call goes on at once and counts in "nosleep". Read-only counters: hits
 * (calls redirected), slept, nosleep. This widens windows that need the
 * CPU to schedule or an RCU grace period to end (an object freed by
 * call_rcu() meanwhile), which the busy wait cannot. Unloading waits for
 * every call still in the wrapper. With kernel IBT enabled on the CPU the
 * wrapper calls F through a pointer, so F must still begin with ENDBR
 * (not sealed): loading fails (-EOPNOTSUPP) otherwise.
 *
 * Fail (a kprobe on F's entry, for error paths a test cannot reach):
 *
 *   fail=E              the fail_nth-th call to F (from caller=C if given)
 *                       does not run F and returns E (a negative errno)
 *   fail_nth=N          which call fails, counted from 1 (default 1);
 *                       every other call runs F as usual
 *
 * The chosen call is sent to a stub that returns E to F's caller (the
 * return address is still on the stack at F's entry). hits counts the
 * matching calls; failed (read-only) is 1 once the call failed. F must
 * return int or long.
 */
#include <linux/module.h>
#include <linux/kprobes.h>
#include <linux/kallsyms.h>
#include <linux/delay.h>
#include <linux/ptrace.h>
#include <linux/slab.h>
#include <linux/ftrace.h>
#include <linux/wait.h>
#include <linux/sched.h>
#include <linux/rcupdate.h>
#include <asm/cpufeature.h>

#define MQ_KDELAY_MAX_SITES	16
#define MQ_KDELAY_MAX_US	1000000	/* longer would be a hard lockup */
#define MQ_X86_CALL_REL32	0xe8
#define MQ_X86_CALL_LEN		5
#define MQ_KDELAY_MAX_SLEEP_US	10000000

static char *func = "mqfuse_req_end";
module_param(func, charp, 0444);
MODULE_PARM_DESC(func, "function to slow down");
static char *after;
module_param(after, charp, 0444);
MODULE_PARM_DESC(after, "delay after each call to this function inside func (default: on entry)");
static unsigned int delay_us = 20000;
module_param(delay_us, uint, 0444);
MODULE_PARM_DESC(delay_us, "busy wait per hit, microseconds (at most 1 s)");
static unsigned int max_hits;
module_param(max_hits, uint, 0444);
MODULE_PARM_DESC(max_hits, "delay only the first max_hits hits (0: every hit)");
static int hits;
module_param(hits, int, 0444);
MODULE_PARM_DESC(hits, "times a delay point was reached (read-only)");
static bool optional;
module_param(optional, bool, 0444);
MODULE_PARM_DESC(optional, "with after=: load even if F has no call to G (nr_sites 0: nothing widened)");
static unsigned int nr_sites;
module_param(nr_sites, uint, 0444);
MODULE_PARM_DESC(nr_sites, "probes placed (read-only)");
static unsigned int sleep_us;
module_param(sleep_us, uint, 0444);
MODULE_PARM_DESC(sleep_us, "sleep before each call to func instead of busy-waiting, microseconds (at most 10 s)");
static char *caller;
module_param(caller, charp, 0444);
MODULE_PARM_DESC(caller, "sleep_us, fail: only calls made from inside this function (default: any)");
static int slept;
module_param(slept, int, 0444);
MODULE_PARM_DESC(slept, "sleep_us: calls delayed by a sleep (read-only)");
static int nosleep;
module_param(nosleep, int, 0444);
MODULE_PARM_DESC(nosleep, "sleep_us: calls made where sleeping is not allowed, not delayed (read-only)");
static int fail;
module_param(fail, int, 0444);
MODULE_PARM_DESC(fail, "make one call to func return this negative errno instead of running it");
static unsigned int fail_nth = 1;
module_param(fail_nth, uint, 0444);
MODULE_PARM_DESC(fail_nth, "fail: which matching call fails, from 1");
static int failed;
module_param(failed, int, 0444);
MODULE_PARM_DESC(failed, "fail: 1 once the call failed (read-only)");

static atomic_t mq_kdelay_hits = ATOMIC_INIT(0);
static struct kprobe *mq_kdelay_kps[MQ_KDELAY_MAX_SITES];

static int mq_kdelay_pre(struct kprobe *p, struct pt_regs *regs)
{
	int n = atomic_inc_return(&mq_kdelay_hits);

	WRITE_ONCE(hits, n);
	if (!max_hits || n <= max_hits) {
		mdelay(delay_us / 1000);
		udelay(delay_us % 1000);
	}
	return 0;
}

/*
 * Where symbol @name ("mod:sym" allowed) starts and how long it is: a
 * temporary kprobe resolves it (kallsyms_lookup_name() is not exported,
 * and calling it through a resolved address would trip IBT), then
 * "sym+off/size" from sprint_symbol() gives the start (a kprobe may sit
 * past an ENDBR) and the size. Returns 0 if the symbol cannot be probed.
 */
static unsigned long mq_kdelay_lookup(const char *name, unsigned long *sizep)
{
	struct kprobe kp = { .symbol_name = name };
	char buf[KSYM_SYMBOL_LEN];
	unsigned long addr, off, size;
	char *plus, *slash, *end;

	if (register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	sprint_symbol(buf, addr);
	plus = strchr(buf, '+');
	slash = plus ? strchr(plus, '/') : NULL;
	if (!slash)
		return 0;
	*slash = '\0';
	end = strchr(slash + 1, ' ');
	if (end)
		*end = '\0';
	if (kstrtoul(plus + 1, 16, &off) || kstrtoul(slash + 1, 16, &size) || off > addr)
		return 0;
	*sizep = size;
	return addr - off;
}

/* ---- fail: a kprobe on F's entry that turns one call into a stub's return ---- */

static unsigned long mq_fail_caddr, mq_fail_csize;	/* C, or 0 */
static atomic_t mq_fail_inflight = ATOMIC_INIT(0);	/* sent to the stub, not yet back */

/*
 * Runs instead of F, as if F returned at once: the caller's return address
 * is on the stack. Entered by the kprobe's return (IRET or the ftrace
 * trampoline's RET), never called: no ENDBR needed, and not traced.
 */
static noinline notrace long mq_kdelay_fail_stub(void)
{
	long ret = READ_ONCE(fail);

	WRITE_ONCE(failed, 1);	/* the stub ran: F did not */
	atomic_dec(&mq_fail_inflight);
	return ret;
}

/*
 * A probe with a post handler is never optimized into a jump (which would
 * ignore the new regs->ip) and, placed through ftrace, gets an IPMODIFY
 * ftrace_ops (so ftrace arbitrates with other IP modifiers of F).
 */
static void mq_kdelay_fail_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

static int mq_kdelay_fail_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long ret_addr = regs_get_kernel_stack_nth(regs, 0);
	int n;

	if (mq_fail_caddr &&
	    (ret_addr < mq_fail_caddr || ret_addr >= mq_fail_caddr + mq_fail_csize))
		return 0;
	n = atomic_inc_return(&mq_kdelay_hits);
	WRITE_ONCE(hits, n);
	if (n != fail_nth)
		return 0;
	atomic_inc(&mq_fail_inflight);
	instruction_pointer_set(regs, (unsigned long)mq_kdelay_fail_stub);
	return 1;	/* regs->ip changed: F's first instruction is not run */
}

static int mq_kdelay_add(unsigned long addr)
{
	struct kprobe *kp;
	int err;

	if (nr_sites >= MQ_KDELAY_MAX_SITES)
		return -E2BIG;
	kp = kzalloc(sizeof(*kp), GFP_KERNEL);
	if (!kp)
		return -ENOMEM;
	kp->addr = (kprobe_opcode_t *)addr;
	kp->pre_handler = fail ? mq_kdelay_fail_pre : mq_kdelay_pre;
	if (fail)
		kp->post_handler = mq_kdelay_fail_post;
	err = register_kprobe(kp);
	if (err) {
		kfree(kp);
		return err;
	}
	mq_kdelay_kps[nr_sites++] = kp;
	return 0;
}

static void mq_kdelay_remove_all(void)
{
	while (nr_sites) {
		struct kprobe *kp = mq_kdelay_kps[--nr_sites];

		unregister_kprobe(kp);
		kfree(kp);
	}
}

/*
 * Every instruction that follows "call G" (e8 rel32) in F. A byte 0xe8
 * inside another instruction would have to encode exactly G's address to
 * match, and register_kprobe() refuses an address that is not the start
 * of an instruction.
 */
static int mq_kdelay_after_calls(unsigned long faddr, unsigned long size,
				 unsigned long gaddr)
{
	unsigned long off;
	int err;

	if (size <= MQ_X86_CALL_LEN)
		return -ENOENT;
	/* "<": a trailing call (to a noreturn G) has no instruction after it in F */
	for (off = 0; off + MQ_X86_CALL_LEN < size; off++) {
		const u8 *ip = (const u8 *)(faddr + off);
		unsigned long next = faddr + off + MQ_X86_CALL_LEN;
		s32 rel;

		if (*ip != MQ_X86_CALL_REL32)
			continue;
		memcpy(&rel, ip + 1, sizeof(rel));
		if (next + (long)rel != gaddr)
			continue;
		err = mq_kdelay_add(next);
		if (err) {
			pr_err("mq_kdelay: no probe at %pS: %d\n", (void *)next, err);
			return err;	/* all the sites or none */
		}
	}
	return nr_sites ? 0 : -ENOENT;
}

/* ---- sleep_us: an ftrace hook on F's entry that detours to a sleeping wrapper ---- */

#ifdef CONFIG_DYNAMIC_FTRACE
#ifdef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
#define MQ_KDELAY_FOPS_FLAGS	FTRACE_OPS_FL_IPMODIFY
#else
#define MQ_KDELAY_FOPS_FLAGS	(FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_SAVE_REGS)
#endif

typedef unsigned long (*mq_kdelay_fn6)(unsigned long, unsigned long, unsigned long,
				       unsigned long, unsigned long, unsigned long);

static unsigned long mq_sleep_faddr;		/* F's first byte */
static unsigned long mq_sleep_caddr, mq_sleep_csize;	/* C, or 0 */
static atomic_t mq_sleep_inflight = ATOMIC_INIT(0);	/* redirected, not yet back */
static DECLARE_WAIT_QUEUE_HEAD(mq_sleep_wq);
static atomic_t mq_sleep_slept = ATOMIC_INIT(0);
static atomic_t mq_sleep_nosleep = ATOMIC_INIT(0);
static bool mq_sleep_registered;

/*
 * Runs in the caller's context instead of F, with F's arguments in the
 * argument registers; the return address on the stack is the caller's.
 * The call to F re-enters the hook, which lets it through: the return
 * address is inside this module.
 */
static noinline unsigned long mq_kdelay_wrapper(unsigned long a1, unsigned long a2,
						unsigned long a3, unsigned long a4,
						unsigned long a5, unsigned long a6)
{
	mq_kdelay_fn6 f = (mq_kdelay_fn6)mq_sleep_faddr;
	unsigned long ret;

	if (preemptible() && !rcu_preempt_depth()) {
		fsleep(sleep_us);
		WRITE_ONCE(slept, atomic_inc_return(&mq_sleep_slept));
	} else {
		WRITE_ONCE(nosleep, atomic_inc_return(&mq_sleep_nosleep));
	}
	ret = f(a1, a2, a3, a4, a5, a6);
	if (atomic_dec_and_test(&mq_sleep_inflight))
		wake_up(&mq_sleep_wq);
	return ret;
}

static void notrace mq_kdelay_set_ip(struct ftrace_regs *fregs, unsigned long ip)
{
#ifdef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
#ifdef ftrace_regs_set_instruction_pointer	/* 6.8 on */
	ftrace_regs_set_instruction_pointer(fregs, ip);
#else
	ftrace_instruction_pointer_set(fregs, ip);
#endif
#else
	instruction_pointer_set(ftrace_get_regs(fregs), ip);
#endif
}

static void notrace mq_kdelay_ftrace(unsigned long ip, unsigned long parent_ip,
				     struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	int bit, n;

	/* the wrapper's own call, or a caller not asked for */
	if (within_module(parent_ip, THIS_MODULE))
		return;
	if (mq_sleep_caddr &&
	    (parent_ip < mq_sleep_caddr || parent_ip >= mq_sleep_caddr + mq_sleep_csize))
		return;
	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	n = atomic_inc_return(&mq_kdelay_hits);
	WRITE_ONCE(hits, n);
	if (!max_hits || n <= max_hits) {
		/* counted before the detour: unloading waits for it */
		atomic_inc(&mq_sleep_inflight);
		mq_kdelay_set_ip(fregs, (unsigned long)mq_kdelay_wrapper);
	}
	ftrace_test_recursion_unlock(bit);
}

static struct ftrace_ops mq_kdelay_fops = {
	.func	= mq_kdelay_ftrace,
	.flags	= MQ_KDELAY_FOPS_FLAGS,
};

static bool mq_kdelay_sealed(unsigned long faddr)
{
#ifdef CONFIG_X86_KERNEL_IBT
	static const u8 endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };

	return cpu_feature_enabled(X86_FEATURE_IBT) &&
	       memcmp((const void *)faddr, endbr64, sizeof(endbr64));
#else
	return false;
#endif
}

static int mq_kdelay_sleep_init(unsigned long faddr)
{
	int err;

	if (mq_kdelay_sealed(faddr)) {
		pr_err("mq_kdelay: %s has no ENDBR (IBT sealed): cannot call it through a pointer\n",
		       func);
		return -EOPNOTSUPP;
	}
	if (caller && *caller) {
		mq_sleep_caddr = mq_kdelay_lookup(caller, &mq_sleep_csize);
		if (!mq_sleep_caddr) {
			pr_err("mq_kdelay: no function %s\n", caller);
			return -ENOENT;
		}
	}
	mq_sleep_faddr = faddr;
	err = ftrace_set_filter_ip(&mq_kdelay_fops, faddr, 0, 0);
	if (err) {
		pr_err("mq_kdelay: %s is not an ftrace location (%d)\n", func, err);
		return err;
	}
	err = register_ftrace_function(&mq_kdelay_fops);
	if (err) {
		pr_err("mq_kdelay: ftrace hook on %s not registered (%d)\n", func, err);
		ftrace_free_filter(&mq_kdelay_fops);
		return err;
	}
	mq_sleep_registered = true;
	pr_info("mq_kdelay: %s%s%s: sleep %u us before each call\n", func,
		mq_sleep_caddr ? " called from " : "", mq_sleep_caddr ? caller : "", sleep_us);
	return 0;
}

static void mq_kdelay_sleep_exit(void)
{
	if (!mq_sleep_registered)
		return;
	/* no new detour after this (it waits for running callbacks) ... */
	unregister_ftrace_function(&mq_kdelay_fops);
	ftrace_free_filter(&mq_kdelay_fops);
	/* ... every detoured call is back from F ... */
	wait_event(mq_sleep_wq, !atomic_read(&mq_sleep_inflight));
	/*
	 * ... and has left the wrapper's last instructions (a task preempted
	 * there is not in a voluntary context switch).
	 */
	if (IS_ENABLED(CONFIG_TASKS_RCU))
		synchronize_rcu_tasks();
	/*
	 * Tasks RCU skips idle tasks: a call that could not sleep (an
	 * interrupt on an idle CPU) may still be past its decrement there.
	 * Such a call runs with preemption off; a normal grace period waits.
	 */
	synchronize_rcu();
}
#else
static int mq_kdelay_sleep_init(unsigned long faddr)
{
	pr_err("mq_kdelay: sleep_us needs CONFIG_DYNAMIC_FTRACE\n");
	return -EOPNOTSUPP;
}

static void mq_kdelay_sleep_exit(void)
{
}
#endif

static int __init mq_kdelay_init(void)
{
	unsigned long fsize, gsize, faddr, gaddr;
	int err;

	/* outputs only: whatever was passed at load time is ignored */
	nr_sites = 0;
	hits = 0;
	slept = 0;
	nosleep = 0;
	failed = 0;
	if (delay_us > MQ_KDELAY_MAX_US || sleep_us > MQ_KDELAY_MAX_SLEEP_US)
		return -EINVAL;
	if (fail && (fail < -MAX_ERRNO || fail > -1 || !fail_nth || sleep_us)) {
		pr_err("mq_kdelay: fail= takes a negative errno and fail_nth >= 1, without sleep_us=\n");
		return -EINVAL;
	}
	if ((caller && *caller && !sleep_us && !fail) ||
	    ((sleep_us || fail) && after && *after)) {
		pr_err("mq_kdelay: caller= goes with sleep_us= or fail=, after= without them\n");
		return -EINVAL;
	}
	faddr = mq_kdelay_lookup(func, &fsize);
	if (!faddr) {
		pr_err("mq_kdelay: no function %s\n", func);
		return -ENOENT;
	}
	if (sleep_us)
		return mq_kdelay_sleep_init(faddr);
	if (fail) {
		if (caller && *caller) {
			mq_fail_caddr = mq_kdelay_lookup(caller, &mq_fail_csize);
			if (!mq_fail_caddr) {
				pr_err("mq_kdelay: no function %s\n", caller);
				return -ENOENT;
			}
		}
		err = mq_kdelay_add(faddr);
		if (err) {
			pr_err("mq_kdelay: no probe on %s (%d)\n", func, err);
			return err;
		}
		pr_info("mq_kdelay: %s%s%s: call %u returns %d\n", func,
			mq_fail_caddr ? " called from " : "", mq_fail_caddr ? caller : "",
			fail_nth, fail);
		return 0;
	}
	if (!after || !*after) {
		err = mq_kdelay_add(faddr);
	} else {
		gaddr = mq_kdelay_lookup(after, &gsize);
		if (!gaddr) {
			pr_err("mq_kdelay: no function %s\n", after);
			return -ENOENT;
		}
		err = mq_kdelay_after_calls(faddr, fsize, gaddr);
		if (err == -ENOENT && !nr_sites && optional) {
			/* a build where the window does not exist (G tail-called) */
			pr_info("mq_kdelay: no call to %s in %s: nothing to widen\n", after, func);
			return 0;
		}
	}
	if (err) {
		mq_kdelay_remove_all();
		pr_err("mq_kdelay: %s%s%s: no probe placed (%d)\n", func,
		       after ? " after " : "", after ? after : "", err);
		return err;
	}
	pr_info("mq_kdelay: %u probe(s) in %s, %u us each\n", nr_sites, func, delay_us);
	return 0;
}

static void __exit mq_kdelay_exit(void)
{
	unsigned int i;

	mq_kdelay_sleep_exit();
	mq_kdelay_remove_all();
	/* a call sent to the stub has left it (it runs with preemption on) */
	for (i = 0; atomic_read(&mq_fail_inflight); i++) {
		if (i == 1000)
			pr_warn("mq_kdelay: a call sent to the fail stub has not returned in 10 s\n");
		msleep(10);
	}
	if (fail)
		synchronize_rcu_tasks();
	pr_info("mq_kdelay: %s: %d hit(s)\n", func, atomic_read(&mq_kdelay_hits));
}

module_init(mq_kdelay_init);
module_exit(mq_kdelay_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mqfuse tests: widen a race window with a kprobe busy wait or an ftrace sleep, or fail one call");
