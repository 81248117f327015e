#!/usr/bin/env python3
"""Tables and plot of a run_gossip.sh sweep (SwarmSGD against synchronous SGD on
Fashion-MNIST): RESULTS.md and gossip.png in the sweep's folder.

    /usr/bin/python3 bench/gossip/gossip_table.py <folder>

Reads <folder>/runs/*.json (examples/swarm_fmnist.py --out) and <folder>/meta.txt.
"""
import glob
import json
import os
import sys

TOLERANCE = 0.005  # the target: within 0.5 points of synchronous SGD


def load(folder):
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "runs", "*.json"))):
        with open(path) as f:
            r = json.load(f)
        runs[r["label"] or os.path.basename(path)[:-5]] = r
    meta = {}
    if os.path.exists(os.path.join(folder, "meta.txt")):
        with open(os.path.join(folder, "meta.txt")) as f:
            meta = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    return runs, meta


def slow_rank(r):
    s = r["args"].get("straggler") or ""
    return int(s.split(":")[0]) if s else -1


def fast_steps_per_s(r):
    fast = [p["steps_per_s"] for p in r["per_rank"] if p["rank"] != slow_rank(r)]
    return sum(fast) / len(fast)


def gossip_total(r, key):
    return sum(p.get("gossip", {}).get(key, 0.0) for p in r["per_rank"])


def curve(r):
    """(t, accuracy) points: the snapshots' averages, then the final average model at the end of training."""
    return [(c["t_s"], c["test_acc"]) for c in r["curve"]] + [(r["final"]["train_s"], r["final"]["test_acc"])]


def time_to(r, target):
    return next((t for t, a in curve(r) if a >= target), None)


def fmt_t(t):
    return "not reached" if t is None else "%.1f" % t


def convergence_rows(runs):
    lines = ["| np | steps / rank | sync acc | swarm acc | swarm - sync (points) | within 0.5 | sync train s | "
             "swarm train s | interactions / rank | swarm's mean wait (ms) |", "|" + " --- |" * 10]
    for np_ in sorted({r["np"] for k, r in runs.items() if k.startswith("sync-np")}):
        sync, swarm = runs.get("sync-np%d" % np_), runs.get("swarm-np%d" % np_)
        if not sync or not swarm:
            continue
        d = swarm["final"]["test_acc"] - sync["final"]["test_acc"]
        waits = [p["gossip"]["wait_mean_s"] for p in swarm["per_rank"] if "gossip" in p]
        lines.append("| %d | %d | %.4f | %.4f | %+.2f | %s | %.1f | %.1f | %.1f | %.1f |" % (
            np_, sync["total_steps"], sync["final"]["test_acc"], swarm["final"]["test_acc"], 100 * d,
            "yes" if d >= -TOLERANCE else "no", sync["final"]["train_s"], swarm["final"]["train_s"],
            gossip_total(swarm, "interactions") / np_, 1e3 * sum(waits) / max(len(waits), 1)))
    return lines


def straggler_rows(runs):
    tags = [k for k in runs if k.startswith("tcp-")]
    if not tags:
        return [], None
    np_ = runs[tags[0]]["np"]
    base = runs.get("tcp-sync-np%d" % np_)
    target = base["final"]["test_acc"] - TOLERANCE if base else None
    lines = ["Target: the synchronous run without straggler's final accuracy%s minus 0.5 points = %s." % (
        " (%.4f)" % base["final"]["test_acc"] if base else "", "%.4f" % target if target else "n/a"),
        "Accuracy curves: the average of every rank's model snapshot at each time, on the first %d test images;"
        " the last point is the final average model on all 10000." % runs[tags[0]]["args"]["eval_subset"], "",
        "| run | fast ranks' steps/s | vs without straggler | slow rank steps/s (steps) | final acc | train s | "
        "time to target (s) |", "|" + " --- |" * 7]
    for mode in ("sync", "swarm"):
        alone = runs.get("tcp-%s-np%d" % (mode, np_))
        for tag in ("tcp-%s-np%d" % (mode, np_), "tcp-%s-straggler-np%d" % (mode, np_)):
            r = runs.get(tag)
            if not r:
                continue
            sr = slow_rank(r)
            slow = next((p for p in r["per_rank"] if p["rank"] == sr), None)
            lines.append("| %s | %.2f | %s | %s | %.4f | %.1f | %s |" % (
                tag, fast_steps_per_s(r), "%.2f" % (fast_steps_per_s(r) / fast_steps_per_s(alone)) if alone else "-",
                "%.2f (%d)" % (slow["steps_per_s"], slow["steps"]) if slow else "-", r["final"]["test_acc"],
                r["final"]["train_s"], fmt_t(time_to(r, target)) if target else "-"))
    pair = [runs.get("tcp-%s-straggler-np%d" % (m, np_)) for m in ("sync", "swarm")]
    if target and all(pair):
        ts = [time_to(r, target) for r in pair]
        if None not in ts and ts[1] > 0:
            lines += ["", "With the straggler, time to target: sync %.1f s, swarm %.1f s: %.2fx shorter (target 2x)."
                      % (ts[0], ts[1], ts[0] / ts[1])]
    return lines, np_


def bytes_rows(runs):
    lines = ["| run | codec | np | interactions | bytes sent / interaction | vs fp32 | fp32 model bytes | "
             "decode fallbacks | final acc |", "|" + " --- |" * 9]
    fp32 = {}
    for tag, r in sorted(runs.items(), key=lambda kv: ("lattice" in kv[0], kv[0])):
        if r["mode"] != "swarm" or tag.startswith("tcp-"):
            continue
        n = gossip_total(r, "interactions")
        per = gossip_total(r, "bytes_sent") / max(n, 1)
        codec = next((kv.split("=", 1)[1] for kv in r["args"]["gossip_config"].split(";") if kv.startswith("codec=")),
                     "none")
        if codec == "none":
            fp32[r["np"]] = per
        lines.append("| %s | %s | %d | %d | %.0f | %s | %d | %d | %.4f |" % (
            tag, codec, r["np"], n, per, "%.3f" % (per / fp32[r["np"]]) if r["np"] in fp32 else "-",
            4 * r["params"], gossip_total(r, "decode_fallbacks"), r["final"]["test_acc"]))
    return lines


def plot(folder, runs, np_):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for tag in sorted(k for k in runs if k.startswith("tcp-")):
        t, a = zip(*curve(runs[tag]))
        ax[0].plot(t, a, marker=".", label=tag)
    finals = [r["final"]["test_acc"] for r in runs.values()]
    ax[0].set(xlabel="wall time (s)", ylabel="test accuracy of the average model",
              title="np %s, TCP only" % np_, ylim=(max(0.0, min(finals) - 0.25), 1.0))
    ax[0].legend(fontsize=7)
    conv = sorted(k for k in runs if not k.startswith("tcp-"))
    ax[1].bar(range(len(conv)), [runs[k]["final"]["test_acc"] for k in conv])
    ax[1].set_xticks(range(len(conv)))
    ax[1].set_xticklabels(conv, rotation=30, ha="right", fontsize=7)
    ax[1].set(ylabel="final test accuracy", ylim=(max(0.0, min(finals) - 0.05), min(1.0, max(finals) + 0.03)),
              title="same steps per rank")
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "gossip.png"), dpi=110)
    return "gossip.png"


def main(folder):
    runs, meta = load(folder)
    if not runs:
        sys.exit("gossip_table.py: no runs/*.json in %s" % folder)
    any_run = next((r for k, r in sorted(runs.items()) if "lattice" not in k), next(iter(runs.values())))
    a = any_run["args"]
    lines = ["# SwarmSGD against synchronous SGD: Fashion-MNIST", ""]
    lines += ["- %s: %s" % (k, meta[k]) for k in ("date", "commit", "machine", "mpi", "torch", "load_start", "note")
              if k in meta]
    lines += ["- what ran: examples/swarm_fmnist.py, the CNN of bench/convergence (%d parameters), the first %d "
              "training images, %d epoch(s), batch %d per rank, SGD lr %g momentum %g, seed %d; swarm: an "
              "interaction every %d local steps (%s), gossip config '%s'; sync: every step's gradients averaged "
              "by gradwire (compressor none). Accuracy: the average of the ranks' models on the 10000 test images."
              % (any_run["params"], a["train_subset"], a["epochs"], a["batch_size"], a["lr"], a["momentum"], a["seed"],
                 a["local_steps"], "blocking" if a["blocking"] else "overlapping the next steps",
                 a["gossip_config"])]
    if "command" in meta:
        lines.append("- command: `%s` (from the repository root; runs/*.log, commands.tsv: each run)" % meta["command"])
    lines += ["", "## Convergence: the same steps per rank", ""] + convergence_rows(runs)
    srows, np_ = straggler_rows(runs)
    if srows:
        lines += ["", "## One straggler, MPI over TCP only (`--mca btl tcp,self`), np %d" % np_, ""] + srows
    lines += ["", "## Bytes per interaction (gossip statistics, headers included)", ""] + bytes_rows(runs)
    png = plot(folder, runs, np_)
    if png:
        lines += ["", "![curves](%s)" % png]
    with open(os.path.join(folder, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
