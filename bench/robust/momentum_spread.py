#!/usr/bin/env python3
"""How far each rank's momentum vector lies from the previous aggregate: the
number a centered-clipping radius (robust=cc:tau) has to sit between.

Replays train_fmnist.py's training (same model, data split, batch, learning
rate, worker momentum) for N ranks in one process, aggregated by the plain
mean, with ranks that send their negated momentum (signflip). Every EVERY
steps it prints, for one parameter, each rank's distance from the previous
aggregate and that aggregate's norm. No MPI and no gradwire: it measures the
data, so that tau can be chosen from it.

    /usr/bin/python3 bench/robust/momentum_spread.py --layer fc1.weight --flip 6,7
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convergence"))
import train_fmnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--np", type=int, default=8)
    ap.add_argument("--flip", default="", help="ranks that send -m, e.g. 6,7")
    ap.add_argument("--layer", default="fc1.weight")
    ap.add_argument("--worker-momentum", type=float, default=0.9)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--train-subset", type=int, default=19200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    torch.set_num_threads(1)
    flip = {int(r) for r in args.flip.split(",") if r}
    (xtr, ytr), _ = train_fmnist.load_fmnist(args.data_dir)
    xtr, ytr = xtr[:args.train_subset], ytr[:args.train_subset]
    torch.manual_seed(args.seed)
    model = train_fmnist.Net()
    names = [n for n, _ in model.named_parameters()]
    params = list(model.parameters())
    watch = names.index(args.layer)
    mom = [[torch.zeros_like(p) for p in params] for _ in range(args.np)]
    prev = [torch.zeros_like(p) for p in params]
    steps = len(xtr) // (args.batch_size * args.np)
    print("epoch step  distance of ranks 0..%d from the previous aggregate  |aggregate|" % (args.np - 1))
    for epoch in range(args.epochs):
        # The split of train_fmnist.py: one permutation per epoch, rank r takes every np-th image.
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        for s in range(steps):
            for r in range(args.np):
                b = perm[r::args.np][s * args.batch_size:(s + 1) * args.batch_size]
                model.zero_grad()
                F.cross_entropy(model(xtr[b]), ytr[b]).backward()
                for k, p in enumerate(params):
                    mom[r][k].mul_(args.worker_momentum).add_(p.grad)
            with torch.no_grad():
                for k, p in enumerate(params):
                    rows = torch.stack([(-1 if r in flip else 1) * mom[r][k].reshape(-1) for r in range(args.np)])
                    agg = rows.mean(0)
                    if k == watch and s % args.every == 0:
                        d = (rows - prev[k].reshape(-1)).norm(dim=1)
                        print("%5d %4d  %s  %.2f" % (epoch, s, " ".join("%5.2f" % x for x in d.tolist()),
                                                     agg.norm().item()), flush=True)
                    prev[k] = agg.reshape(p.shape)
                    p.sub_(args.lr * prev[k])


if __name__ == "__main__":
    main()
