#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the guests' raw.txt files (see guest-bench.sh) into one benchmark report.

    report.py [--commit C] [--host-note TEXT]
              --run KVER RAW [--run KVER RAW ...]
              [--note KVER TEXT] [--failed KVER REASON]
    report.py RAW [--commit C] [--host-note TEXT] [--stats-dir DIR]   (one run)

One --run per kernel, each the raw.txt of one guest booting that kernel (its
mqfused --stats files are read from the same directory).  Per workload the
table has, for every kernel, the median of each of the five configurations
with the spread of its repetitions ((max-min)/median, when there is more
than one), "mqfuse ring" (a: mqfused --transport=ring), "mqfuse dev" (e:
--transport=dev, the char device), "fuse" (b: stock FUSE, same daemon),
"libfuse" (c) and "ext4" (d), and the ratios of the medians ring/fuse (a/b,
the headline: same daemon, mqfuse's ring against stock FUSE), ring/dev
(a/e: what the ring brings over mqfuse's own char device), dev/fuse (e/b:
what mqfuse brings without the ring), ring/libfuse (a/c) and ring/ext4
(a/d), each taken within that kernel's run only: timing under TCG is
comparable only within one guest run, never across kernels.  Raw files
from before configuration e (no e in META configs_run) leave its columns
"-".

After the table, per kernel, the queue counters of the mqfuse sessions at
the end of the compare section (META queue_stats: ring_batches,
ring_requests, in_daemon_max, requests) with the mean batch
ring_requests/ring_batches, per queue and over all queues.

The consistency-mode section (workloads "mode-*", configurations named
after the modes), if the guest ran it, gets a table per kernel: the
medians per mode and, per row, the speed of each weaker mode relative to
its stronger neighbour (cto/strict, cto-wb/cto, relaxed/cto,
immutable/relaxed; for a lower-is-better row the inverse), each marked
"ok" (>= 1.00 as printed), "FAIL" (below, and the two modes' repetitions
do not overlap), "fail~" (below, but their repetitions overlap: within
this run's noise) or "fail?" (below, one repetition only); then the two
claims of issue 11 ("each weaker mode at least as fast as its stronger
neighbour", "cto-wb 4 KiB writes at least 5x cto") with the computed
verdict.  These verdicts are reported, never
asserted: they do not change the exit status.

The virtio section (workloads "virtio-*", configurations vfs, vq1 and
vqn), if the guest ran it, gets a table per kernel: one virtio-fs device
and its host back-end (mqfused --vhost-user) mounted in turn by that
kernel's virtiofs driver ("virtiofs"), by mqfuse_virtio with one request
queue ("mqv 1q") and with all N of the device's ("mqv Nq", N as
recorded), the medians with their spread, and the ratios of the medians
1q/virtiofs, Nq/virtiofs and Nq/1q, taken within that run; then what
each configuration's runs put through each request queue (interrupts, and
for mqfuse_virtio messages sent: META virtio_queue_use).

Then every repetition's raw figure with its spread, per kernel, and for
the mode section the daemon's requests per run (REQ records).

--failed KVER REASON marks a kernel whose run failed (bench.sh passes one
per reason: not installed, build failed, guest run failed or incomplete,
the guest booted another kernel, configuration a, e or b unavailable ("NA a",
"NA e", "NA b"), a consistency mode or a virtio configuration unavailable,
failed measurements ("FAIL")): its figures, if any, are partial
and its missing cells read n/a.  --note adds a line to that kernel's header.
A run whose guest's uname -r (META kernel) is not the kernel asked for is
marked FAILED here too, with or without --failed.

Exit status: 0 when no kernel is marked FAILED; 1 when one is (the report
is printed all the same), or when no run produced any raw results (then
only the reasons are printed).  It never fails because of a figure.
"""
import argparse
import os
import statistics
import sys

# In column order.
CONFIGS = ["a", "e", "b", "c", "d", "t"]
NAMES = {
    "a": "mqfuse+mqfused ring",
    "e": "mqfuse+mqfused dev",
    "b": "fuse+mqfused",
    "c": "fuse+libfuse",
    "d": "ext4",
    "t": "mqfuse+mqfused tcp",
}
# What each configuration is, for the legend.
WHAT = {
    "a": "mqfuse_vN.ko + mqfused --fs mqfuse --transport=ring",
    "e": "mqfuse_vN.ko + mqfused --fs mqfuse --transport=dev (the char device)",
    "b": "stock fuse.ko + mqfused --fs fuse",
    "c": "stock fuse.ko + libfuse3 passthrough (lfpt)",
    "d": "native ext4",
    "t": "mqfuse_vN.ko + mqfused tcp:// to mqfuse-server in another network namespace (veth)",
}
# Column heads in the table (the kernel label follows).
SHORT = {"a": "mqfuse ring", "e": "mqfuse dev", "b": "fuse", "c": "libfuse", "d": "ext4",
         "t": "tcp"}
# (numerator, denominator, head): ring/fuse is the headline.
RATIOS = [("a", "b", "ring/fuse"), ("a", "e", "ring/dev"), ("e", "b", "dev/fuse"),
          ("a", "c", "ring/libfuse"), ("a", "d", "ring/ext4"),
          ("t", "e", "tcp/dev")]
# The mqfuse configurations, whose sessions' queue counters are recorded.
MQFUSE_CONFIGS = ["a", "e"]

# The consistency-mode section: its configurations are named after the
# modes, its workloads start with "mode-".
MODES = ["strict", "cto", "cto-wb", "relaxed", "immutable"]
for m_ in MODES:
    NAMES[m_] = "consistency=" + m_
# The virtio section: one device, three clients, in column order.
VIRTIO_CONFIGS = ["vfs", "vq1", "vqn"]
NAMES["vfs"] = "virtiofs (stock driver)"
NAMES["vq1"] = "mqfuse_virtio virtqueues=1"
NAMES["vqn"] = "mqfuse_virtio virtqueues=N"
ALL_CONFIGS = CONFIGS + MODES + VIRTIO_CONFIGS
# (weaker, stronger): each weaker mode and its stronger neighbour.
NEIGHBOURS = [("cto", "strict"), ("cto-wb", "cto"), ("relaxed", "cto"),
              ("immutable", "relaxed")]
# Issue 11: cto-wb's small buffered writes at least 5x cto's.
WB_CLAIM = ("mode-wr4k", "cto-wb", "cto", 5.0)


def is_mode_wl(wl):
    return wl.startswith("mode-")


def is_virtio_wl(wl):
    return wl.startswith("virtio-")


def is_compare_wl(wl):
    return not is_mode_wl(wl) and not is_virtio_wl(wl)


def parse(path):
    meta, wls, vals, na, fails, reqs = [], [], {}, {}, [], {}
    wl_info = {}
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            kind = parts[0]
            if kind == "META" and len(parts) >= 2:
                meta.append((parts[1], " ".join(parts[2:])))
            elif kind == "WL" and len(parts) >= 4:
                if parts[1] not in wl_info:
                    wls.append(parts[1])
                wl_info[parts[1]] = (parts[2], parts[3], " ".join(parts[4:]))
            elif kind == "R" and len(parts) == 5:
                try:
                    v = float(parts[4])
                except ValueError:
                    continue
                vals.setdefault((parts[1], parts[2]), []).append((int(parts[3]), v))
            elif kind == "NA" and len(parts) >= 2:
                na.setdefault(parts[1], " ".join(parts[2:]))
            elif kind == "FAIL" and len(parts) >= 4:
                fails.append(line.strip()[5:])
            elif kind == "REQ" and len(parts) >= 5:
                try:
                    n = int(parts[3])
                except ValueError:
                    continue
                reqs.setdefault((parts[1], parts[2]), []).append((n, " ".join(parts[4:])))
    return meta, wls, wl_info, vals, na, fails, reqs


def fmt(v):
    if v is None:
        return "-"
    if v >= 1000:
        return "%.0f" % v
    if v >= 100:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def spread(pts):
    """(max-min)/median of @pts in percent, or None (fewer than two, or a
    zero median)."""
    if len(pts) < 2:
        return None
    med = statistics.median(pts)
    if not med:
        return None
    return 100 * (max(pts) - min(pts)) / med


def fmt_spread(pts):
    """The median of @pts, with its spread when there is one."""
    s_ = spread(pts)
    med = statistics.median(pts)
    return fmt(med) if s_ is None else "%s (%.0f%%)" % (fmt(med), s_)


# FAIL records name the run (meta-Nt, list, the fio id), not the row.
def run_id(wl):
    for p_ in ("create-", "stat-", "unlink-"):
        if wl.startswith(p_):
            return "meta-" + wl[len(p_):]
        if wl.startswith("virtio-" + p_):
            return "virtio-meta"
    if wl == "list-stat":
        return "list"
    if wl == "virtio-list-stat":
        return "virtio-list"
    if wl.startswith("cpu-"):
        return wl[4:]
    return wl


class Run:
    """One guest run: one kernel."""

    def __init__(self, kver, raw, stats_dir):
        self.kver = kver
        self.raw = raw
        self.stats_dir = stats_dir
        self.failed = []
        self.notes = []
        self.have = bool(raw) and os.path.exists(raw)
        if self.have:
            (self.meta, self.wls, self.wl_info, self.vals, self.na,
             self.fails, self.reqs) = parse(raw)
        else:
            self.meta, self.wls, self.wl_info, self.vals = [], [], {}, {}
            self.na, self.fails, self.reqs = {}, [], {}
        self.md = {}
        for k, v in self.meta:
            self.md.setdefault(k, v)
        if not self.kver:
            self.kver = self.md.get("kernel", "?")
        self.configs = self.md.get("configs_run", " ".join(CONFIGS)).split()
        self.modes = self.md.get("modes_run", "").split()
        self.failed_ids = {}
        for f_ in self.fails:
            fp = f_.split(" ")
            self.failed_ids.setdefault(fp[1], set()).add(fp[0])

    def median(self, wl, c):
        pts = self.vals.get((wl, c))
        if pts:
            return statistics.median(v for _, v in pts)
        return None

    def points(self, wl, c):
        return [v for _, v in self.vals.get((wl, c), [])]


def labels_for(runs):
    """Short column labels: the kernel line (6.1, 6.12), or the whole
    release when two runs are on the same line."""
    short = []
    for r in runs:
        parts = r.kver.split(".")
        short.append(".".join(parts[:2]) if len(parts) >= 2 else r.kver)
    if len(set(short)) != len(short):
        return [r.kver for r in runs]
    return short


def speedup(r, wl, weaker, stronger):
    """(ratio, mark) of @weaker against @stronger on @wl: ratio >= 1 when
    the weaker mode is at least as fast; (None, reason) without figures."""
    mw, ms = r.median(wl, weaker), r.median(wl, stronger)
    if mw is None or ms is None:
        return None, "n/a"
    better = r.wl_info[wl][1]
    if better == "lo":
        ratio = ms / mw if mw else None
    else:
        ratio = mw / ms if ms else None
    if ratio is None:
        return None, "n/a"
    if float("%.2f" % ratio) >= 1.0:
        return ratio, "ok"
    pw, ps = r.points(wl, weaker), r.points(wl, stronger)
    # Below 1: one repetition says nothing about the noise; else do the
    # repetitions of the two modes overlap at all?
    if len(pw) < 2 or len(ps) < 2:
        return ratio, "fail?"
    if better == "lo":
        overlap = min(pw) <= max(ps)
    else:
        overlap = max(pw) >= min(ps)
    return ratio, "fail~" if overlap else "FAIL"


def mode_section(r, p):
    """The consistency-mode table and claims of one run (nothing if the
    guest did not run that section)."""
    wls = [wl for wl in r.wls if is_mode_wl(wl)]
    if not wls:
        if "modes" in r.md.get("sections", "").split():
            p("")
            p("Consistency modes, kernel %s (%s): the section was asked for but recorded"
              " nothing (the guest run did not get there)" % (r.label, r.kver))
        return
    p("")
    p("Consistency modes, kernel %s (%s): mqfuse mounted once per mode (mqfused --fs mqfuse"
      " -o consistency=MODE), side by side%s" % (r.label, r.kver,
      ": FAILED run, figures partial" if r.failed else ""))
    p("  %s; %s; repetitions %s (median shown)" % (
      r.md.get("mode_sizes", "?"), r.md.get("mode_timeouts", "timeouts ?"),
      r.md.get("mode_reps", r.md.get("reps", "?"))))
    notes = []
    na_note = {}
    for m in MODES:
        if m in r.na:
            notes.append("%s: unavailable: %s" % (m, r.na[m]))
            na_note[m] = len(notes)

    def cell(wl, m):
        v = r.median(wl, m)
        if v is not None:
            return fmt_spread(r.points(wl, m))
        if m not in r.modes:
            return "-"
        if m in na_note:
            return "n/a [%d]" % na_note[m]
        if wl in r.failed_ids.get(m, ()):
            return "failed"
        return "n/a"

    hdr = ["workload", "unit", "better"] + MODES + ["%s/%s" % nb for nb in NEIGHBOURS]
    rows, verdicts = [], []
    unmeasured = ["%s/%s" % (w, st) for w, st in NEIGHBOURS
                  if w not in r.modes or st not in r.modes]
    for wl in wls:
        unit, better, _ = r.wl_info[wl]
        row = [wl, unit, better] + [cell(wl, m) for m in MODES]
        for w, st in NEIGHBOURS:
            if w not in r.modes or st not in r.modes:
                row.append("-")
                continue
            ratio, mark = speedup(r, wl, w, st)
            verdicts.append((wl, w, st, ratio, mark))
            row.append("n/a" if ratio is None else "%.2f %s" % (ratio, mark))
        rows.append(row)
    widths = [max(len(str(x[i])) for x in rows + [hdr]) for i in range(len(hdr))]

    def line(x):
        return "  ".join(str(v).ljust(widths[i]) if i < 3 else str(v).rjust(widths[i])
                         for i, v in enumerate(x)).rstrip()
    p(line(hdr))
    p(line(["-" * w for w in widths]))
    for x in rows:
        p(line(x))
    for i, t in enumerate(notes):
        p("[%d] %s" % (i + 1, t))
    p("Cells: median (spread = (max-min)/median of the repetitions, when more than one).")
    p("Ratios: weaker mode / stronger neighbour of the medians, as speed (>= 1: the weaker"
      " mode is at least as fast); ok = >= 1.00, FAIL = below and the repetitions of the two"
      " modes do not overlap, fail~ = below but they overlap (within this run's noise),"
      " fail? = below, one repetition only (noise unknown).")

    p("Claims (issue 11), kernel %s, computed from these medians (reported, not asserted):" % r.label)
    bad = [v for v in verdicts if v[4] in ("FAIL", "fail~", "fail?")]
    missing = [v for v in verdicts if v[3] is None]
    if not verdicts:
        p("  each weaker mode at least as fast as its stronger neighbour: NOT SHOWN (no pair of"
          " modes measured)")
    else:
        if bad:
            verdict = "does NOT hold"
        elif missing:
            verdict = "NOT SHOWN (figures missing)"
        else:
            verdict = "holds"
        p("  each weaker mode at least as fast as its stronger neighbour: %s (%d of %d ratios"
          " >= 1.00%s%s)" % (verdict, len(verdicts) - len(bad) - len(missing), len(verdicts),
                             ", %d n/a" % len(missing) if missing else "",
                             "; not measured: " + ", ".join(unmeasured) if unmeasured else ""))
        for wl, w, st, ratio, mark in bad:
            p("    %s %s/%s = %.2f (%s)" % (wl, w, st, ratio, {
              "fail~": "within noise: the repetitions overlap",
              "fail?": "one repetition: noise unknown"}.get(mark, "the repetitions do not overlap")))
    wl, w, st, need = WB_CLAIM
    if wl in wls and w in r.modes and st in r.modes:
        ratio, _ = speedup(r, wl, w, st)
        if ratio is None:
            p("  cto-wb 4 KiB writes at least %gx cto: NOT SHOWN (figures missing)" % need)
        else:
            p("  cto-wb 4 KiB writes at least %gx cto: %s (%s %s/%s = %.2f)" % (
              need, "holds" if float("%.2f" % ratio) >= need else "does NOT hold", wl, w, st,
              ratio))


def virtio_section(r, p):
    """The virtio table of one run: virtiofs and mqfuse_virtio with 1 and
    N request queues on the same device and back-end (nothing if the guest
    did not run that section)."""
    wls = [wl for wl in r.wls if is_virtio_wl(wl)]
    asked = "virtio" in r.md.get("sections", "").split()
    if not wls and not any(c in r.na for c in VIRTIO_CONFIGS):
        if asked:
            p("")
            p("mqfuse over virtio, kernel %s (%s): the section was asked for but recorded"
              " nothing (the guest run did not get there)" % (r.label, r.kver))
        return
    n = r.md.get("virtio_queues", "N")
    short = {"vfs": "virtiofs", "vq1": "mqv 1q", "vqn": "mqv %sq" % n}
    ratios = [("vq1", "vfs", "1q/virtiofs"), ("vqn", "vfs", "%sq/virtiofs" % n),
              ("vqn", "vq1", "%sq/1q" % n)]
    run_cfgs = r.md.get("virtio_configs_run", " ".join(VIRTIO_CONFIGS)).split()
    p("")
    p("mqfuse over virtio, kernel %s (%s): one vhost-user-fs device (%s), host back-end"
      " helper/mqfused --vhost-user, mounted in turn by each client%s" % (
        r.label, r.kver, r.md.get("virtio_device", "device ?"),
        ": FAILED run, figures partial" if r.failed else ""))
    setup = r.md.get("virtio_setup", "").split()
    p("  %s; repetitions %s (median shown); %s" % (
      r.md.get("virtio_sizes", "?"), r.md.get("virtio_reps", "?"),
      "files written through %s in %s s (untimed)" % tuple(setup[:2]) if len(setup) >= 2
      else "the files were not written"))
    for c in VIRTIO_CONFIGS:
        p("  %-8s  %s" % (short[c], {
            "vfs": "the kernel's virtiofs driver, mount -t virtiofs (before 6.11 every request"
                   " goes on requests.0; from 6.11 CPUs map to the request queues)",
            "vq1": "mqfuse_virtio_vN.ko, mount -o virtqueues=1 (the core's client on one"
                   " request queue)",
            "vqn": "mqfuse_virtio_vN.ko, mount -o virtqueues=%s (one core queue per request"
                   " queue, CPUs spread over them)" % n}[c]))
    for k, v in r.meta:
        if k == "virtio_session":
            c, _, rest = v.partition(" ")
            p("  session of %s (%s): %s" % (c, short.get(c, c), rest))
    if "virtio_section_seconds" in r.md:
        extra = ""
        mounts = r.md.get("virtio_mounts", "").split()
        if mounts:
            extra += "; %s mounts, the device moved between the drivers %s times" % (
                mounts[0], mounts[1].partition("=")[2] if len(mounts) > 1 else "?")
        p("  section: %s s of guest time%s" % (r.md["virtio_section_seconds"], extra))
        per = [x.partition("=") for x in r.md.get("virtio_workload_seconds", "").split()]
        if per:
            p("  guest seconds per workload (all configurations and repetitions, mounts"
              " included): " + ", ".join("%s %s" % (k, v) for k, _, v in per))
    notes = []
    na_note = {}
    for c in VIRTIO_CONFIGS:
        if c in r.na:
            notes.append("%s (%s): unavailable: %s" % (short[c], c, r.na[c]))
            na_note[c] = len(notes)

    def cell(wl, c):
        if r.median(wl, c) is not None:
            return fmt_spread(r.points(wl, c))
        if c not in run_cfgs:
            return "-"
        if c in na_note:
            return "n/a [%d]" % na_note[c]
        if run_id(wl) in r.failed_ids.get(c, ()):
            return "failed"
        return "n/a"

    hdr = ["workload", "unit", "better"] + [short[c] for c in VIRTIO_CONFIGS] + \
          [h for _, _, h in ratios]
    rows = []
    for wl in wls:
        unit, better, _ = r.wl_info[wl]
        row = [wl, unit, better] + [cell(wl, c) for c in VIRTIO_CONFIGS]
        for x, y, _ in ratios:
            mx, my = r.median(wl, x), r.median(wl, y)
            row.append("%.2f" % (mx / my) if mx is not None and my else "-")
        rows.append(row)
    if rows:
        widths = [max(len(str(x[i])) for x in rows + [hdr]) for i in range(len(hdr))]

        def line(x):
            return "  ".join(str(v).ljust(widths[i]) if i < 3 else str(v).rjust(widths[i])
                             for i, v in enumerate(x)).rstrip()
        p(line(hdr))
        p(line(["-" * w for w in widths]))
        for x in rows:
            p(line(x))
    else:
        p("  (no figures)")
    for i, t in enumerate(notes):
        p("[%d] %s" % (i + 1, t))
    p("Cells: median (spread = (max-min)/median of the repetitions, when more than one)."
      " Ratios of the medians of this run only; for 'lo' rows a ratio below 1 favours the"
      " numerator.")
    use = {}
    for k, v in r.meta:
        if k == "virtio_queue_use":
            f_ = v.split(" ")
            if len(f_) >= 3:
                use[(f_[0], f_[1])] = " ".join(f_[2:])
    if use:
        p("Request queue use over each configuration's runs (interrupts of each request"
          " queue; for mqfuse_virtio also the messages it sent on it, from vq_stats):")
        for c in VIRTIO_CONFIGS:
            for kind, what in (("irq", "interrupts"), ("sent", "messages sent")):
                if (c, kind) in use:
                    p("  %-8s %-13s %s" % (short[c], what, use[(c, kind)]))


def queue_section(r, p):
    """The mqfuse sessions' queue counters at the end of the compare
    section (META queue_stats CONFIG queueN key=value...) with the mean
    batch of the ring."""
    qs = {}
    for k, v in r.meta:
        if k != "queue_stats":
            continue
        f_ = v.split(" ")
        if len(f_) < 2 or f_[0] not in MQFUSE_CONFIGS:
            continue
        kv = {}
        for x in f_[2:]:
            key, _, val = x.partition("=")
            try:
                kv[key] = int(val)
            except ValueError:
                pass
        qs.setdefault(f_[0], []).append((f_[1], kv))
    if not qs:
        return
    p("")
    p("Queue counters, kernel %s, at the end of the compare section (cumulative since the"
      " mount: setup, every workload and repetition); mean batch = ring_requests /"
      " ring_batches:" % r.label)

    def mean_batch(req, bat):
        return "%.2f" % (req / bat) if bat else "- (no ring batch)"
    for c in MQFUSE_CONFIGS:
        if c not in qs:
            continue
        tot = {"requests": 0, "ring_requests": 0, "ring_batches": 0, "in_daemon_max": 0}
        for q, kv in qs[c]:
            p("  %s (%s) %-7s requests %d  ring_requests %d  ring_batches %d  mean batch %s"
              "  in_daemon_max %d" % (SHORT[c], c, q, kv.get("requests", 0),
                                      kv.get("ring_requests", 0), kv.get("ring_batches", 0),
                                      mean_batch(kv.get("ring_requests", 0),
                                                 kv.get("ring_batches", 0)),
                                      kv.get("in_daemon_max", 0)))
            for key in ("requests", "ring_requests", "ring_batches"):
                tot[key] += kv.get(key, 0)
            tot["in_daemon_max"] = max(tot["in_daemon_max"], kv.get("in_daemon_max", 0))
        p("  %s (%s) all %d queue(s): requests %d  ring_requests %d  ring_batches %d"
          "  mean batch %s  in_daemon_max %d (highest queue)" % (
            SHORT[c], c, len(qs[c]), tot["requests"], tot["ring_requests"],
            tot["ring_batches"], mean_batch(tot["ring_requests"], tot["ring_batches"]),
            tot["in_daemon_max"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", nargs="?", help="one run's raw.txt (kernel from its records)")
    ap.add_argument("--run", nargs=2, action="append", default=[], metavar=("KVER", "RAW"))
    ap.add_argument("--note", nargs=2, action="append", default=[], metavar=("KVER", "TEXT"))
    ap.add_argument("--failed", nargs=2, action="append", default=[], metavar=("KVER", "REASON"))
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--host-note", default="")
    ap.add_argument("--stats-dir", default="")
    args = ap.parse_args()

    runs = []
    if args.raw:
        runs.append(Run("", args.raw, args.stats_dir))
    for kver, raw in args.run:
        runs.append(Run(kver, raw, os.path.dirname(raw)))
    if not runs:
        ap.error("no run given (RAW or --run KVER RAW)")
    byk = {r.kver: r for r in runs}
    for kver, text in args.note:
        if kver in byk:
            byk[kver].notes.append(text)
    for kver, reason in args.failed:
        if kver in byk and reason not in byk[kver].failed:
            byk[kver].failed.append(reason)
    for r in runs:
        if not r.have and not r.failed:
            r.failed.append("no raw results (%s): the guest run did not produce any" % r.raw)
        # Figures from another kernel than the one asked for are not a
        # measurement of it (bench.sh passes this same reason).
        guest_k = r.md.get("kernel") or "?"
        why = "the guest ran kernel '%s' (uname -r), not %s" % (guest_k, r.kver)
        if r.have and guest_k != r.kver and why not in r.failed:
            r.failed.append(why)
    if not any(r.have for r in runs):
        for r in runs:
            print("bench: kernel %s: %s" % (r.kver, "; ".join(r.failed)))
        return 1
    labels = labels_for(runs)
    for r, l in zip(runs, labels):
        r.label = l

    first = next(r for r in runs if r.have)
    out = []
    p = out.append
    any_modes = any(is_mode_wl(wl) for r in runs for wl in r.wls)
    any_virtio = any(is_virtio_wl(wl) for r in runs for wl in r.wls)
    p("mqfuse benchmark: mqfuse (ring and char device) vs stock FUSE vs native ext4%s%s,"
      " one QEMU/TCG guest per kernel" % (
        "; mqfuse per consistency mode" if any_modes else "",
        "; mqfuse_virtio (1 and N queues) vs stock virtiofs" if any_virtio else ""))
    modes = sorted(set(r.md.get("mode", "?") for r in runs if r.have))
    p("commit %s   mode %s%s" % (args.commit, "/".join(modes),
      "   QUICK (development sizes)" if first.md.get("quick") == "1" else ""))
    if args.host_note:
        p(args.host_note)
    p("kernels (each column names one; stock FUSE is that kernel's own fuse.ko, "
      "mqfuse is built for it): " + ", ".join("%s = %s" % (r.label, r.kver) for r in runs))
    for r in runs:
        head = "[%s] kernel %s" % (r.label, r.kver)
        if r.have:
            guest_k = r.md.get("kernel", "?")
            p("%s: date %s, guest %s CPUs, %s MiB, uname -r %s%s, %s" % (
              head, r.md.get("date", "?"), r.md.get("guest_cpus", "?"),
              r.md.get("guest_mem_mib", "?"), guest_k,
              "" if guest_k == r.kver else " (NOT the kernel asked for)",
              r.md.get("fio", "fio ?")))
            p("%s  repetitions %s (median shown)%s" % (" " * len(head), r.md.get("reps", "?"),
              ", " + r.md["sizes"] if "sizes" in r.md else ""))
            if "mqfused" in r.md:
                p("%s  mqfused: %s" % (" " * len(head), r.md["mqfused"]))
            elif "configs_run" in r.md:
                p("%s  raw records from before configuration e: column a ('%s') is mqfused's"
                  " transport of that time, the char device" % (" " * len(head), SHORT["a"]))
            for k, v in r.meta:
                if k == "mqfuse_session":
                    # "CONFIG key=value..."; before configuration e: no CONFIG.
                    c, _, rest = v.partition(" ")
                    if c in MQFUSE_CONFIGS:
                        p("%s  mqfuse session of %s (%s): %s" % (" " * len(head), c, SHORT[c], rest))
                    else:
                        p("%s  mqfuse session: %s" % (" " * len(head), v))
            for n in r.notes:
                p("%s  %s" % (" " * len(head), n))
        else:
            p("%s:" % head)
            for n in r.notes:
                p("%s  %s" % (" " * len(head), n))
        for f_ in r.failed:
            p("%s  FAILED: %s%s" % (" " * len(head), f_,
              " (figures below are partial)" if r.have else " (all its cells are n/a)"))
    if any(is_compare_wl(wl) for r in runs for wl in r.wls):
        p("configs (column heads):")
        for c in CONFIGS:
            p("  %s  %-11s  %s" % (c, SHORT[c], WHAT[c]))
        p("Cells: median (spread = (max-min)/median of the repetitions, when more than one).")
        p("Ratios of the medians of the same kernel's run: ring/fuse = a/b (the headline: same"
          " daemon), ring/dev = a/e, dev/fuse = e/b, ring/libfuse = a/c, ring/ext4 = a/d;"
          " 'better' says whether higher (hi) or lower (lo) is better for that row (for lo"
          " rows a ratio below 1 favours the numerator).")
    p("Timing under TCG is emulated: compare only figures from one run (one kernel), as"
      " ratios; never compare absolute figures across kernels.")
    p("")

    # Workloads: in the first run's order, then any only another run has.
    all_wls, wl_info = [], {}
    for r in runs:
        for wl in r.wls:
            if wl not in wl_info:
                all_wls.append(wl)
                wl_info[wl] = r.wl_info[wl]
    # The side-by-side table: the compare section's workloads.
    wls = [wl for wl in all_wls if is_compare_wl(wl)]

    # Footnotes: unavailable configurations and failed kernels.
    notes, note_text = {}, []
    for r in runs:
        if r.failed and not r.have:
            note_text.append("%s: %s" % (r.label, "; ".join(r.failed)))
            notes[(r.label, None)] = len(note_text)
        for c in CONFIGS:
            if c in r.na:
                note_text.append("%s %s (%s): %s" % (r.label, c, NAMES[c], r.na[c]))
                notes[(r.label, c)] = len(note_text)

    def cell_text(r, wl, c, v):
        if v is not None:
            return fmt_spread(r.points(wl, c))
        if (r.label, None) in notes:
            return "n/a [%d]" % notes[(r.label, None)]
        if (r.label, c) in notes:
            return "n/a [%d]" % notes[(r.label, c)]
        if (wl.startswith("cpu-") and c == "d") or c not in r.configs:
            return "-"
        if run_id(wl) in r.failed_ids.get(c, ()):
            return "failed"
        return "n/a"

    hdr = ["workload", "unit", "better"]
    groups = []
    for r in runs:
        cols = [SHORT[c] + " " + r.label for c in CONFIGS] + \
               [name + " " + r.label for _, _, name in RATIOS]
        groups.append((len(hdr), len(cols), "%s (%s)%s" % (
            r.label, r.kver, ": FAILED" if r.failed else "")))
        hdr += cols
    rows = []
    for wl in wls:
        unit, better, _ = wl_info[wl]
        row = [wl, unit, better]
        for r in runs:
            meds = {c: r.median(wl, c) for c in CONFIGS}
            row += [cell_text(r, wl, c, meds[c]) for c in CONFIGS]
            for x, y, _ in RATIOS:
                if meds[x] is not None and meds[y] not in (None, 0):
                    row.append("%.2f" % (meds[x] / meds[y]))
                else:
                    row.append("-")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    # A group's title must fit over its columns.
    for start, n, title in groups:
        span = sum(widths[start:start + n]) + 2 * (n - 1)
        if len(title) + 4 > span:
            widths[start + n - 1] += len(title) + 4 - span

    def line(r):
        return "  ".join(str(v).ljust(widths[i]) if i < 3 else str(v).rjust(widths[i])
                         for i, v in enumerate(r)).rstrip()
    if rows:
        g = " " * (sum(widths[:3]) + 2 * 3)
        for start, n, title in groups:
            span = sum(widths[start:start + n]) + 2 * (n - 1)
            g += (" " + title + " ").center(span, "-") + "  "
        p(g.rstrip())
        p(line(hdr))
        p(line(["-" * w for w in widths]))
        for r in rows:
            p(line(r))
    else:
        p("(section 'compare' not run: no side-by-side table)")
    p("")
    for i, t in enumerate(note_text):
        p("[%d] %s" % (i + 1, t))
    for r in runs:
        if r.have:
            queue_section(r, p)
    for r in runs:
        if r.have:
            mode_section(r, p)
    for r in runs:
        if r.have:
            virtio_section(r, p)
    for r in runs:
        if r.fails:
            p("failed runs on %s (excluded from the medians):" % r.label)
            for f_ in r.fails:
                p("  " + f_)
    p("")
    # Column width of the workload ids (virtio's are longer).
    ww = max([18] + [len(wl) for wl in all_wls])
    p("Workloads:")
    for wl in all_wls:
        p("  %-*s %s" % (ww, wl, wl_info[wl][2]))
    p("")
    p("Raw figures per repetition (rep:value), spread = (max-min)/median:")
    for r in runs:
        if not r.have:
            continue
        p("kernel %s (%s):" % (r.label, r.kver))
        nw = max([len(NAMES[c]) for (_, c) in r.vals if c in NAMES] + [15])
        for wl in all_wls:
            for c in ALL_CONFIGS:
                pts = sorted(r.vals.get((wl, c), []))
                if not pts:
                    continue
                vs = [v for _, v in pts]
                sp = spread(vs)
                p("  %-*s %-*s %s   spread %s" % (ww, wl, nw, NAMES[c],
                  " ".join("%d:%s" % (n, fmt(v)) for n, v in pts),
                  "-" if sp is None else "%.0f%%" % sp))
    for r in runs:
        if not r.reqs:
            continue
        p("")
        p("Daemon requests per run, modes section, kernel %s (mqfused --stats before/after"
          " each run; the untimed first pass included):" % r.label)
        for wl in all_wls:
            for c in MODES:
                for n, text in sorted(r.reqs.get((wl, c), [])):
                    p("  %-12s %-9s rep %d: %s" % (wl, c, n, text))
    for r in runs:
        if not r.stats_dir:
            continue
        for c in ("a", "e", "b"):
            sp = os.path.join(r.stats_dir, "stats-%s.txt" % c)
            if os.path.exists(sp):
                p("")
                p("mqfused --stats, kernel %s, config %s (%s)%s:" % (
                  r.label, c, NAMES[c],
                  ", unavailable (not in the table): " + r.na[c] if c in r.na else ""))
                with open(sp, errors="replace") as f:
                    for l in f:
                        p("  " + l.rstrip())
    print("\n".join(out))
    return 1 if any(r.failed for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
