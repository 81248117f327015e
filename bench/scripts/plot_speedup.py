#!/usr/bin/python3
"""Plot gw-perf speedup (MPI_Allreduce baseline time / gradwire time) against size.

    /usr/bin/python3 bench/scripts/plot_speedup.py RESULTS_DIR_OR_JSON... [-o speedup.png]

Reads the JSON arrays written by `gw-perf --json` (every *.json in a folder given
as argument) and draws one panel per (regime label, np), one line per compressor,
speedup on a log y axis against message size on a log2 x axis. A dashed line
marks speedup 1 (break-even with the plain MPI_Allreduce of the same run).
Needs only matplotlib (Debian: python3-matplotlib); uses the Agg backend.
"""
import argparse
import glob
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

REGIME_ORDER = ["shm", "tcp", "10gbit", "1gbit"]
Y_TICKS = [m * 10.0 ** e for e in range(-3, 4) for m in (1, 2, 5)]


def human(nbytes):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if nbytes >= 1 << shift and nbytes % (1 << shift) == 0:
            return "%d%s" % (nbytes >> shift, unit)
    return str(int(nbytes))


def load(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files.extend(sorted(glob.glob(os.path.join(p, "*.json"))))
        else:
            files.append(p)
    rows = []
    for f in files:
        try:
            with open(f) as fh:
                data = json.load(fh)
        except (OSError, ValueError) as e:
            print("plot_speedup: skipping %s: %s" % (f, e), file=sys.stderr)
            continue
        if not isinstance(data, list):
            continue
        for r in data:
            if isinstance(r, dict) and "size" in r and "speedup" in r:
                r = dict(r)
                r.setdefault("label", "")
                r["label"] = r["label"] or os.path.splitext(os.path.basename(f))[0]
                rows.append(r)
    return files, rows


def panel_key(r):
    label = r["label"]
    rank = REGIME_ORDER.index(label) if label in REGIME_ORDER else len(REGIME_ORDER)
    return (rank, label, r.get("np", 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="gw-perf JSON files or folders holding them")
    ap.add_argument("-o", "--output", help="PNG to write (default: speedup.png in the first folder)")
    ap.add_argument("--title", default="gradwire speedup over MPI_Allreduce (same run)")
    args = ap.parse_args()

    files, rows = load(args.inputs)
    if not rows:
        print("plot_speedup: no gw-perf rows in %s" % ", ".join(args.inputs), file=sys.stderr)
        return 1
    out = args.output
    if not out:
        first = args.inputs[0]
        out = os.path.join(first if os.path.isdir(first) else os.path.dirname(first) or ".", "speedup.png")

    panels = sorted({panel_key(r) for r in rows})
    compressors = []
    for r in rows:
        if r["compressor"] not in compressors:
            compressors.append(r["compressor"])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    style = {c: (colors[i % len(colors)], "os^vD<>ph*"[i % 10]) for i, c in enumerate(compressors)}

    ncols = min(len(panels), 2 if len(panels) <= 4 else 3)
    nrows = int(math.ceil(len(panels) / float(ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.0 * ncols, 4.2 * nrows), squeeze=False)
    sizes_all = sorted({int(r["size"]) for r in rows})
    for ax, key in zip(axes.flat, panels):
        _, label, np_ = key
        sub = [r for r in rows if panel_key(r) == key]
        for c in compressors:
            pts = sorted((int(r["size"]), r["speedup"]) for r in sub if r["compressor"] == c)
            pts = [(s, v) for s, v in pts if v is not None and v > 0]
            if not pts:
                continue
            color, marker = style[c]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color, label=c)
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        sizes = sorted({int(r["size"]) for r in sub}) or sizes_all
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(int(round(v)))))
        vals = [r["speedup"] for r in sub if r.get("speedup")] + [1.0]
        lo, hi = min(vals) / 1.25, max(vals) * 1.25
        ax.set_ylim(lo, hi)
        ticks = [t for t in Y_TICKS if lo <= t <= hi] or [1.0]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%gx" % v))
        ax.set_xlabel("message size (bytes, fp32)")
        ax.set_ylabel("speedup (MPI_Allreduce time / gradwire time)")
        ax.set_title("%s, np=%s" % (label, np_))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(args.title)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
