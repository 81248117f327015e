#!/usr/bin/env python3
"""Table and plot of a run_attacks.sh sweep: final Fashion-MNIST test accuracy
for every robust rule (rows) under every attack (columns), written to
RESULTS.md and attacks.png in the sweep's folder.

    /usr/bin/python3 bench/robust/attack_table.py bench/results/robust-<date>
"""
import glob
import json
import os
import sys


def main(folder):
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, "runs", "*.json"))):
        with open(path) as f:
            r = json.load(f)
        rule, _, attack = r["label"].partition("|")
        runs.append((rule, attack, r))
    if not runs:
        sys.exit("attack_table.py: no runs/*.json in %s" % folder)
    rules, attacks = [], []
    for rule, attack, _ in runs:
        if rule not in rules:
            rules.append(rule)
        if attack not in attacks:
            attacks.append(attack)
    attacks.sort(key=lambda a: (a != "none", a))
    acc = {(rule, attack): r["final"]["test_acc"] for rule, attack, r in runs}
    wall = {(rule, attack): r["final"]["wall_s"] for rule, attack, r in runs}
    meta = {}
    meta_path = os.path.join(folder, "meta.txt")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    first = runs[0][2]
    baseline = acc.get(("mean", "none"))

    lines = ["# Robust rules under attack: Fashion-MNIST", ""]
    for k in ("date", "commit", "machine", "mpi", "torch", "command"):
        if k in meta:
            lines.append("- %s: `%s`" % (k, meta[k]))
    args = first.get("args", {})
    lines.append("- %d ranks, global batch %d, %d steps, spec `%s`, config of run 1: `%s`" % (
        first["np"], first["global_batch"], first["steps"], first["spec"], args.get("config", "")))
    if baseline is not None:
        lines.append("- no-attack mean (robust=mean, no attack): %.4f" % baseline)
    lines += ["", "Final test accuracy (all 10000 test images); training wall seconds in brackets.", ""]
    lines.append("| rule | " + " | ".join(attacks) + " |")
    lines.append("|---|" + "---|" * len(attacks))
    for rule in rules:
        cells = []
        for a in attacks:
            if (rule, a) in acc:
                cells.append("%.4f (%.0f s)" % (acc[(rule, a)], wall[(rule, a)]))
            else:
                cells.append("-")
        lines.append("| `%s` | %s |" % (rule, " | ".join(cells)))
    if baseline is not None:
        lines += ["", "Worst accuracy under any attack, and its distance from the no-attack mean:", ""]
        lines.append("| rule | worst | attack | below no-attack mean (points) |")
        lines.append("|---|---|---|---|")
        for rule in rules:
            under = [(acc[(rule, a)], a) for a in attacks if a != "none" and (rule, a) in acc]
            if under:
                worst, which = min(under)
                lines.append("| `%s` | %.4f | %s | %.1f |" % (rule, worst, which, 100 * (baseline - worst)))
    with open(os.path.join(folder, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1.3 * len(attacks) + 2, 0.55 * len(rules) + 1.5))
    grid = [[acc.get((rule, a), float("nan")) for a in attacks] for rule in rules]
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(attacks)))
    ax.set_xticklabels(attacks, rotation=30, ha="right")
    ax.set_yticks(range(len(rules)))
    ax.set_yticklabels(rules)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v == v:
                ax.text(j, i, "%.3f" % v, ha="center", va="center", fontsize=8)
    ax.set_title("Fashion-MNIST test accuracy, %d ranks" % first["np"])
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "attacks.png"), dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
