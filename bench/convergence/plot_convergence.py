#!/usr/bin/env python3
"""Writes RESULTS.md and PNG plots for a folder written by run_convergence.sh
(meta.txt, commands.tsv, one JSON per regime and spec from train_fmnist.py).

    /usr/bin/python3 bench/convergence/plot_convergence.py bench/results/convergence-<date>
"""
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SPEC_ORDER = ["gloo", "none", "fp16", "bf16", "maxmin:bits=8", "maxmin:bits=4", "maxmin:bits=2"]


def order(spec):
    return (SPEC_ORDER.index(spec), spec) if spec in SPEC_ORDER else (len(SPEC_ORDER), spec)


def time_to(curve, target):
    for c in curve:
        if c["test_acc"] >= target - 1e-12:
            return c["wall_s"], c["step"]
    return None, None


def main(folder):
    meta = {}
    if os.path.exists(os.path.join(folder, "meta.txt")):
        for line in open(os.path.join(folder, "meta.txt")):
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    cmds = []
    if os.path.exists(os.path.join(folder, "commands.tsv")):
        cmds = [line.rstrip("\n").split("\t") for line in open(os.path.join(folder, "commands.tsv")) if line.strip()]
    runs = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        r = json.load(open(path))
        r["file"] = os.path.basename(path)
        runs.setdefault(r["label"] or "run", {})[r["spec"]] = r
    regimes = [r for r in ["shm", "tcp", "10gbit", "1gbit"] if r in runs] + sorted(
        r for r in runs if r not in ("shm", "tcp", "10gbit", "1gbit"))

    md = ["# Convergence: Fashion-MNIST, DDP + gradwire hook", ""]
    for k in ("date", "commit", "machine", "mpi", "torch"):
        if k in meta:
            md.append("- %s: %s" % (k, meta[k]))
    if "note" in meta:
        md.append("- note: %s" % meta["note"])
    if "load_start" in meta:
        md.append("- load average at start: %s" % meta["load_start"])
    any_run = next((r for reg in runs.values() for r in reg.values()), None)
    if any_run:
        a = any_run["args"]
        md.append("- what ran: a CNN of %d parameters (conv5x5x32, pool, conv5x5x64, pool, fc 1024->512, fc 512->10),"
                  " %d ranks, SGD lr %g momentum %g, batch %d per rank (global %d), the first %d training images,"
                  " %d epochs = %d steps; test accuracy on all 10000 test images every %d steps (evaluation time"
                  " excluded from the wall time); seed %d. Every spec applies to every parameter."
                  % (any_run["params"], any_run["np"], a["lr"], a["momentum"], a["batch_size"], any_run["global_batch"],
                     a["train_subset"], a["epochs"], any_run["steps"], a["eval_every"], a["seed"]))
    md.append("- bytes sent: gradwire's count for the gradient traffic of one rank (headers included), mean over"
              " ranks; with np > 2 and buffers over 256 KiB the library uses scatter-reduce-allgather"
              " (2(n-1)/n payloads per rank).")
    md.append("- regimes: shm = mpirun defaults (Open MPI shared memory); 1gbit = all ranks in one network"
              " namespace whose loopback is limited by tc tbf rate 1gbit (one shared medium), MPI over TCP on lo.")
    if "command" in meta:
        md.append("- command: `%s` (from the repository root; <build> = the build directory, <out> = this folder)"
                  % meta["command"])
    md.append("")

    for regime in regimes:
        rs = runs[regime]
        specs = sorted(rs, key=order)
        base = rs.get("none")
        target = base["final"]["test_acc"] if base else None
        md.append("## %s, np=%d" % (regime, rs[specs[0]]["np"]))
        md.append("")
        if target is not None:
            md.append("Target for the time columns: `none`'s final test accuracy in this regime, %.4f"
                      " (and 99%% of it, %.4f)." % (target, 0.99 * target))
            md.append("")
        md.append("| spec | final test acc | final train loss | MB sent / rank | bytes vs none | train wall (s) |"
                  " s / step | time to none's final acc (s, step) | time to 99% of it (s, step) |")
        md.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for spec in specs:
            r = rs[spec]
            f = r["final"]
            sent = f["bytes_sent_per_rank"]
            rel = ("%.3f" % (sent / base["final"]["bytes_sent_per_rank"])) if base and sent else "-"

            def tt(t):
                if target is None:
                    return "-"
                w, s = time_to(r["curve"], t)
                return "%.1f (%d)" % (w, s) if w is not None else "not reached"
            md.append("| `%s` | %.4f | %.4f | %s | %s | %.1f | %.3f | %s | %s |" % (
                spec, f["test_acc"], f["train_loss"], ("%.1f" % (sent / 1e6)) if sent else "- (gloo)", rel,
                f["wall_s"], f["wall_s"] / f["step"], tt(target), tt(None if target is None else 0.99 * target)))
        md.append("")
        png = "convergence-%s.png" % regime
        plot_regime(rs, specs, regime, os.path.join(folder, png))
        md.append("![%s](%s)" % (regime, png))
        md.append("")

    if cmds:
        md.append("## Runs")
        md.append("")
        md.append("| regime | spec | status | seconds (incl. start-up) | command |")
        md.append("| --- | --- | --- | --- | --- |")
        for c in cmds:
            c = c + [""] * (5 - len(c))
            md.append("| %s | `%s` | %s | %s | `%s` |" % (c[0], c[1], c[2], c[3], c[4].replace("|", "\\|")))
        md.append("")
    with open(os.path.join(folder, "RESULTS.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


def plot_regime(rs, specs, regime, path):
    fig, ax = plt.subplots(2, 2, figsize=(12, 8.5))
    for spec in specs:
        cur = rs[spec]["curve"]
        steps = [c["step"] for c in cur]
        ax[0, 0].plot(steps, [c["train_loss"] for c in cur], label=spec)
        ax[0, 1].plot(steps, [c["test_acc"] for c in cur], label=spec)
        if cur[-1]["bytes_sent_per_rank"] > 0:
            ax[1, 0].plot([c["bytes_sent_per_rank"] / 1e6 for c in cur], [c["test_acc"] for c in cur], label=spec)
        ax[1, 1].plot([c["wall_s"] for c in cur], [c["test_acc"] for c in cur], label=spec)
    ax[0, 0].set(xlabel="step", ylabel="train loss (mean since last point)", yscale="log")
    ax[0, 1].set(xlabel="step", ylabel="test accuracy")
    ax[1, 0].set(xlabel="MB sent per rank (log)", ylabel="test accuracy", xscale="log")
    ax[1, 1].set(xlabel="training wall time (s)", ylabel="test accuracy")
    for a in ax.flat:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    for a in (ax[0, 1], ax[1, 0], ax[1, 1]):
        a.set_ylim(0.6, None)
    fig.suptitle("Fashion-MNIST CNN, DDP + gradwire hook, regime %s, np=%d" % (regime, rs[specs[0]]["np"]))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
