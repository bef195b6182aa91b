# SPDX-License-Identifier: GPL-2.0
# What counts as a kernel report in a log: one definition for the host
# runner's check of the whole guest log (run.sh) and for the suites that
# check a window of it (lib.sh: mq_klog_reports). Sourced by bash.
#
# Oopses, warnings (WARN, ODEBUG and kernfs removal warnings print a
# WARNING: line), lockdep, KASAN/UBSAN/KFENCE, hangs, slub_debug's reports
# ("BUG kmalloc-64 (Tainted: ...): Poison overwritten", "Redzone
# overwritten", "Object padding", "Freepointer corrupt", ...), bad pages,
# list and refcount corruption; ODEBUG and kernfs by name too, in case
# their line reaches the log without the WARNING: line.
mq_klog_pattern='BUG:|BUG [^ ]+ \(|WARNING:|Oops|general protection|lockdep|KASAN|UBSAN|KFENCE'
mq_klog_pattern+='|blocked for more than|hung_task|soft lockup|Kernel panic|Call Trace'
mq_klog_pattern+='|[Ss]lab|Poison overwritten|Redzone|Object padding|Padding overwritten'
mq_klog_pattern+='|Freepointer|Object already free|Invalid object pointer|page dumped because'
mq_klog_pattern+='|Bad page|list_(add|del) corruption|refcount_t:|ODEBUG|Unable to handle'
mq_klog_pattern+='|kernfs: can not remove'
# Lines that match the words above but report nothing: boot lines, and
# the debug kernel's banner.
mq_klog_benign='Command line:|SLUB: HWalign=|mem auto-init:|RCU lockdep checking is enabled'

# Filter log lines on stdin down to the reports, one of each.
mq_klog_filter() {
	tr -d '\r' | grep -E "$mq_klog_pattern" | grep -Ev "$mq_klog_benign" | sort -u
}
