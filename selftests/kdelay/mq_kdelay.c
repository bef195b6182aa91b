// SPDX-License-Identifier: GPL-2.0
/*
 * mq_kdelay: a test-only module that widens a race window in mqfuse by
 * busy-waiting at a chosen point, so that a race the suites could only
 * hit by luck happens on (nearly) every run. Loaded by a test around one
 * scenario, never by users; needs CONFIG_KPROBES.
 *
 *   func=F              delay on entry to F ("module:F" picks the module), or, with
 *   after=G             delay right after each direct call to G inside F
 *                       (for instance after=_raw_spin_unlock: a window just
 *                       after F drops a lock)
 *   delay_us=N          busy wait per hit (default 20000)
 *   max_hits=N          delay only the first N hits (0: all); hits are
 *                       counted anyway, in /sys/module/mq_kdelay/parameters/hits
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
 */
#include <linux/module.h>
#include <linux/kprobes.h>
#include <linux/kallsyms.h>
#include <linux/delay.h>
#include <linux/slab.h>

#define MQ_KDELAY_MAX_SITES	16
#define MQ_KDELAY_MAX_US	1000000	/* longer would be a hard lockup */
#define MQ_X86_CALL_REL32	0xe8
#define MQ_X86_CALL_LEN		5

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
static unsigned int nr_sites;
module_param(nr_sites, uint, 0444);
MODULE_PARM_DESC(nr_sites, "probes placed (read-only)");

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
	kp->pre_handler = mq_kdelay_pre;
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

static int __init mq_kdelay_init(void)
{
	unsigned long fsize, gsize, faddr, gaddr;
	int err;

	/* outputs only: whatever was passed at load time is ignored */
	nr_sites = 0;
	hits = 0;
	if (delay_us > MQ_KDELAY_MAX_US)
		return -EINVAL;
	faddr = mq_kdelay_lookup(func, &fsize);
	if (!faddr) {
		pr_err("mq_kdelay: no function %s\n", func);
		return -ENOENT;
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
	mq_kdelay_remove_all();
	pr_info("mq_kdelay: %s: %d hit(s)\n", func, atomic_read(&mq_kdelay_hits));
}

module_init(mq_kdelay_init);
module_exit(mq_kdelay_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mqfuse tests: widen a race window with a kprobe delay");
