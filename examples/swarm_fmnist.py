#!/usr/bin/env python3
"""SwarmSGD on Fashion-MNIST under mpirun: every rank trains its own copy of a small
CNN on its shard of the data and, every H local steps, averages with a random
peer's latest published copy through gradwire.gossip; nobody waits for a global
round. At the end the group is closed (the last halves of exchanges are folded in,
so the sum of the models is what training made it) and the average model is
evaluated on the test set.

    tests/mpirun.sh 4 /usr/bin/python3 examples/swarm_fmnist.py --epochs 1 --local-steps 2
    mpirun -np 4 python3 examples/swarm_fmnist.py --gossip-config "codec=lattice:bits=8"

The gradwire lines are marked "gradwire". By default an interaction overlaps the
next H local steps (interact_start, local steps, interact_finish); --blocking
uses interact(). For the benchmarks (bench/gossip/) the same script runs
synchronous SGD (--mode sync: every step's gradients averaged with gradwire's
uncompressed allreduce), a straggler (--straggler RANK:FACTOR: that rank sleeps
FACTOR-1 times its compute time after every step), and snapshots of every
rank's model on a wall-clock grid (--snapshot-every S) whose averages are
evaluated after training, so the curve of test accuracy against time costs the
run no synchronization. The data are Debian's dataset-fashion-mnist files
(bench/convergence/train_fmnist.py reads them; nothing is downloaded).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))  # uninstalled tree
sys.path.insert(0, os.path.join(here, "..", "bench", "convergence"))
import gradwire  # noqa: E402  gradwire
import gradwire.gossip  # noqa: E402  gradwire
from train_fmnist import DATA_DIRS, Net, load_fmnist  # noqa: E402  (the model and data of the convergence runs)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("swarm", "sync"), default="swarm")
    ap.add_argument("--local-steps", type=int, default=2, help="H: local steps between interactions (swarm)")
    ap.add_argument("--blocking", action="store_true", help="interact() instead of overlapping the next H steps")
    ap.add_argument("--gossip-config", default="timeout=30", help="gossip.h config, e.g. 'codec=lattice:bits=8'")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-subset", type=int, default=19200, help="first N training images")
    ap.add_argument("--batch-size", type=int, default=32, help="per rank")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--straggler", default="", help="RANK:FACTOR, e.g. 3:5 (that rank is FACTOR times slower)")
    ap.add_argument("--straggler-steps", choices=("scaled", "full"), default="scaled",
                    help="swarm: the straggler does 1/FACTOR of the steps (scaled: it ends with the others) or all")
    ap.add_argument("--snapshot-every", type=float, default=0.0, help="seconds between model snapshots (0: none)")
    ap.add_argument("--eval-subset", type=int, default=2000, help="test images for the snapshot evaluations")
    ap.add_argument("--data-dir", default=os.environ.get("FMNIST_DIR"))
    ap.add_argument("--label", default="")
    ap.add_argument("--out", help="JSON written by rank 0")
    return ap.parse_args()


def flat_of(params, attr="data"):
    return torch.cat([getattr(p, attr).reshape(-1) for p in params])


def set_flat(params, flat, attr="data"):
    off = 0
    for p in params:
        getattr(p, attr).copy_(flat[off:off + p.numel()].view_as(p))
        off += p.numel()


class Ranks:
    """The few collectives of this script, over one uncompressed gradwire communicator."""

    def __init__(self):
        self.comm = gradwire.Communicator("timeout=300")
        self.rank, self.size = self.comm.rank, self.comm.size
        self.comm.set_spec("x", "none")

    def sum(self, t):
        return self.comm.allreduce(t, "x", op="sum")

    def mean(self, t):
        return self.comm.allreduce(t, "x", op="avg")

    def gather(self, values):
        return self.comm.allgather(torch.tensor(values, dtype=torch.float32), "x")


def evaluate(net, xte, yte, n, ranks):
    """(accuracy, loss) of net on the first n test images, each rank scoring a share."""
    idx = torch.arange(ranks.rank, n, ranks.size)
    tot = torch.zeros(2)
    net.eval()
    with torch.no_grad():
        for i in range(0, len(idx), 500):
            b = idx[i:i + 500]
            out = net(xte[b])
            tot += torch.tensor([(out.argmax(1) == yte[b]).sum().item(),
                                 F.cross_entropy(out, yte[b], reduction="sum").item()])
    net.train()
    ranks.sum(tot)
    return tot[0].item() / n, tot[1].item() / n


def main():
    args = parse_args()
    torch.set_num_threads(int(os.environ.get("GW_TORCH_THREADS", "1")))
    ranks = Ranks()
    rank, size = ranks.rank, ranks.size
    data_dir = args.data_dir or next((d for d in DATA_DIRS if os.path.isdir(d)), None)
    if not data_dir:
        sys.exit("no Fashion-MNIST data: apt-get install dataset-fashion-mnist, or pass --data-dir")
    (xtr, ytr), (xte, yte) = load_fmnist(data_dir)
    xtr, ytr = xtr[:args.train_subset], ytr[:args.train_subset]

    slow_rank, factor = -1, 1.0
    if args.straggler:
        slow_rank, factor = int(args.straggler.split(":")[0]), float(args.straggler.split(":")[1])
    torch.manual_seed(args.seed)  # the same initial model on every rank
    net = Net()
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum)
    steps_per_epoch = len(xtr) // (args.batch_size * size)
    total_steps = steps_per_epoch * args.epochs
    my_steps = total_steps
    if rank == slow_rank and args.mode == "swarm" and args.straggler_steps == "scaled":
        my_steps = max(1, int(total_steps / factor))

    gossip = None
    if args.mode == "swarm":
        gossip = gradwire.gossip.Gossip(net, config=args.gossip_config)  # gradwire: collective, one flat copy
        gossip.publish()  # gradwire: a first copy for peers to average with (before it, they find none)
    snapshots, next_snap = [], 0.0
    loss_sum, alone = 0.0, 0  # alone: interactions that found no partner (-1)
    ranks.sum(torch.zeros(1))  # start together
    t0 = time.perf_counter()
    perm = None
    for step in range(my_steps):
        epoch, s = divmod(step, steps_per_epoch)
        if s == 0:
            perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))[rank::size]
        b = perm[s * args.batch_size:(s + 1) * args.batch_size]
        tc = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(net(xtr[b]), ytr[b])
        loss.backward()
        if rank == slow_rank:
            time.sleep((factor - 1.0) * (time.perf_counter() - tc))
        if args.mode == "sync":
            set_flat(params, ranks.mean(flat_of(params, "grad")), "grad")
        opt.step()
        loss_sum += loss.item()
        if gossip is not None and (step + 1) % args.local_steps == 0:
            if args.blocking:
                alone += gossip.interact() < 0  # gradwire: publish, read a partner's copy, average
            else:
                if gossip.interacting:
                    alone += gossip.interact_finish() < 0  # gradwire: average with the copy that came
                gossip.interact_start()  # gradwire: publish and ask; the next H steps overlap the transfer
        while args.snapshot_every > 0 and time.perf_counter() - t0 >= next_snap:
            snapshots.append(flat_of(params).clone())
            next_snap += args.snapshot_every
    train_s = time.perf_counter() - t0
    stats = None
    if gossip is not None:
        gossip.close()  # gradwire: collective; finishes the open interaction, folds the last deltas into net
        stats = gossip.stats()
        gossip.destroy()
    close_s = time.perf_counter() - t0 - train_s

    # The curve: the average over ranks of the snapshots at t = k * S (a rank that
    # had stopped by then counts with its model as training left it).
    counts = ranks.gather([len(snapshots), train_s, my_steps, loss_sum / max(my_steps, 1), alone])
    curve = []
    for k in range(int(counts[:, 0].max().item())):
        own = snapshots[k] if k < len(snapshots) else flat_of(params)
        mean = ranks.mean(own.clone())
        saved = flat_of(params).clone()
        set_flat(params, mean)
        acc, test_loss = evaluate(net, xte, yte, min(args.eval_subset, len(xte)), ranks)
        set_flat(params, saved)
        curve.append({"t_s": k * args.snapshot_every, "test_acc": acc, "test_loss": test_loss})
    mean = ranks.mean(flat_of(params).clone())  # the average model
    spread = (flat_of(params) - mean).norm().item()
    spreads = ranks.gather([spread, mean.norm().item()])
    set_flat(params, mean)
    acc, test_loss = evaluate(net, xte, yte, len(xte), ranks)
    st_all = ranks.gather([float(stats[k]) for k in sorted(stats)]) if stats else None
    if rank == 0:
        per_rank = [{"rank": r, "steps": int(counts[r, 2]), "train_s": counts[r, 1].item(),
                     "steps_per_s": counts[r, 2].item() / max(counts[r, 1].item(), 1e-9),
                     "train_loss": counts[r, 3].item(), "no_partner": int(counts[r, 4]),
                     "distance_to_mean": spreads[r, 0].item()}
                    for r in range(size)]
        if st_all is not None:
            for r in range(size):
                per_rank[r]["gossip"] = dict(zip(sorted(stats), st_all[r].tolist()))
        result = {"mode": args.mode, "label": args.label, "np": size, "params": sum(p.numel() for p in params),
                  "torch": torch.__version__, "total_steps": total_steps, "global_batch": args.batch_size * size,
                  "args": {k: v for k, v in vars(args).items() if k not in ("out", "data_dir")},
                  "final": {"test_acc": acc, "test_loss": test_loss, "train_s": counts[:, 1].max().item(),
                            "close_s": close_s}, "per_rank": per_rank, "curve": curve}
        print("%s np %d: %d steps/rank, test acc of the average model %.4f, train %.1f s (close %.2f s)" % (
            args.mode, size, total_steps, acc, result["final"]["train_s"], close_s), flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
