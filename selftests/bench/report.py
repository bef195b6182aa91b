#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the guest's raw.txt (see guest-bench.sh) into the benchmark report.

    report.py RAW [--commit C] [--host-note TEXT] [--stats-dir DIR]

Prints the medians of every workload x configuration, the ratios
mqfuse/stock-FUSE-same-daemon (a/b), mqfuse/libfuse (a/c), mqfuse/ext4 (a/d),
then every repetition's raw figure with its spread.  Reports only: it never
fails because of a figure.
"""
import argparse
import os
import statistics
import sys

CONFIGS = ["a", "b", "c", "d"]
NAMES = {
    "a": "mqfuse+mqfused",
    "b": "fuse+mqfused",
    "c": "fuse+libfuse",
    "d": "ext4",
}
RATIOS = [("a", "b", "mq/fuse"), ("a", "c", "mq/libfuse"), ("a", "d", "mq/ext4")]


def parse(path):
    meta, wls, vals, na, fails = [], [], {}, {}, []
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
    return meta, wls, wl_info, vals, na, fails


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--host-note", default="")
    ap.add_argument("--stats-dir", default="")
    args = ap.parse_args()

    if not os.path.exists(args.raw):
        print("bench: no raw results (%s): the guest run did not produce any" % args.raw)
        return 1
    meta, wls, wl_info, vals, na, fails = parse(args.raw)
    md = {}
    for k, v in meta:
        md.setdefault(k, v)
    configs = md.get("configs_run", " ".join(CONFIGS)).split()

    out = []
    p = out.append
    p("mqfuse benchmark: mqfuse vs stock FUSE vs native ext4, one QEMU/TCG guest")
    p("date %s   commit %s   mode %s%s" % (md.get("date", "?"), args.commit,
      md.get("mode", "?"), "   QUICK (development sizes)" if md.get("quick") == "1" else ""))
    p("guest: %s CPUs, %s MiB, kernel %s, %s" % (md.get("guest_cpus", "?"),
      md.get("guest_mem_mib", "?"), md.get("kernel", "?"), md.get("fio", "fio ?")))
    p("repetitions %s (median shown), %s" % (md.get("reps", "?"), md.get("sizes", "")))
    for k, v in meta:
        if k == "mqfuse_session":
            p("mqfuse session: %s" % v)
    if args.host_note:
        p(args.host_note)
    p("configs: " + "  ".join("%s=%s" % (c, NAMES[c]) for c in CONFIGS))
    p("Ratios are mqfuse / other of the medians; 'better' says whether higher (hi)"
      " or lower (lo) is better for that row.")
    p("Timing under TCG is emulated: compare only figures from one run, as ratios.")
    p("")

    # Footnotes for unavailable configurations.
    notes = {}
    for c in CONFIGS:
        if c in na:
            notes[c] = len(notes) + 1

    # FAIL records name the run (meta-Nt, list, the fio id), not the row.
    def run_id(wl):
        for p_ in ("create-", "stat-", "unlink-"):
            if wl.startswith(p_):
                return "meta-" + wl[len(p_):]
        if wl == "list-stat":
            return "list"
        if wl.startswith("cpu-"):
            return wl[4:]
        return wl
    failed = {}
    for f_ in fails:
        fp = f_.split(" ")
        failed.setdefault(fp[1], set()).add(fp[0])

    def cell(wl, c):
        pts = vals.get((wl, c))
        if pts:
            return statistics.median(v for _, v in pts)
        return None

    def cell_text(wl, c, v):
        if v is not None:
            return fmt(v)
        if c in notes:
            return "n/a [%d]" % notes[c]
        if (wl.startswith("cpu-") and c == "d") or c not in configs:
            return "-"
        if run_id(wl) in failed.get(c, ()):
            return "failed"
        return "n/a"

    hdr = ["workload", "unit", "better"] + [NAMES[c] for c in CONFIGS] + [r[2] for r in RATIOS]
    rows = []
    for wl in wls:
        unit, better, _ = wl_info[wl]
        meds = {c: cell(wl, c) for c in CONFIGS}
        row = [wl, unit, better] + [cell_text(wl, c, meds[c]) for c in CONFIGS]
        for x, y, _ in RATIOS:
            if meds[x] is not None and meds[y] not in (None, 0):
                row.append("%.2f" % (meds[x] / meds[y]))
            else:
                row.append("-")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]

    def line(r):
        return "  ".join(str(v).ljust(widths[i]) if i < 3 else str(v).rjust(widths[i])
                         for i, v in enumerate(r)).rstrip()
    p(line(hdr))
    p(line(["-" * w for w in widths]))
    for r in rows:
        p(line(r))
    p("")
    for c, n in notes.items():
        p("[%d] %s (%s): %s" % (n, c, NAMES[c], na[c]))
    if fails:
        p("failed runs (excluded from the medians):")
        for f_ in fails:
            p("  " + f_)
    p("")
    p("Workloads:")
    for wl in wls:
        p("  %-18s %s" % (wl, wl_info[wl][2]))
    p("")
    p("Raw figures per repetition (rep:value), spread = (max-min)/median:")
    for wl in wls:
        for c in CONFIGS:
            pts = sorted(vals.get((wl, c), []))
            if not pts:
                continue
            vs = [v for _, v in pts]
            med = statistics.median(vs)
            spread = ("%.0f%%" % (100 * (max(vs) - min(vs)) / med)) if med else "-"
            p("  %-18s %-15s %s   spread %s" % (wl, NAMES[c],
              " ".join("%d:%s" % (r, fmt(v)) for r, v in pts), spread))
    if args.stats_dir:
        for c in ("a", "b"):
            sp = os.path.join(args.stats_dir, "stats-%s.txt" % c)
            if os.path.exists(sp):
                p("")
                p("mqfused --stats, config %s (%s):" % (c, NAMES[c]))
                with open(sp, errors="replace") as f:
                    for l in f:
                        p("  " + l.rstrip())
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
