#!/usr/bin/env python3
"""Fashion-MNIST convergence run: a small CNN trained data-parallel with PyTorch DDP
(CPU, gloo process group) whose gradients go through gradwire's DDP hook.

    tests/mpirun.sh 4 /usr/bin/python3 bench/convergence/train_fmnist.py --spec maxmin:bits=4 --out run.json

--spec is a gradwire compressor spec applied to every parameter ("none", "fp16",
"maxmin:bits=4,bucket=512", ...), or "gloo" for plain DDP (no hook: torch's own
gloo allreduce) as a reference, or "torch-powersgd:rank=R,start=S" for PyTorch's
own powerSGD_hook over gloo (error feedback and warm start on, min_compression_rate
2; PyTorch needs start >= 2), to compare with gradwire's "powersgd:rank=R,start=S".
Its bytes are the payload values it allreduces (4 bytes each: the compressed P and
Q and the uncompressed tensors, as PyTorch counts them), without gloo's headers. The data are Debian's dataset-fashion-mnist IDX
files (read here, nothing is downloaded). Rank 0 writes a JSON with the curve:
train loss, test accuracy, bytes sent (gradwire's own count, per rank) and
training wall time (evaluation excluded) against the step.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import gradwire  # noqa: E402
import gradwire.ddp  # noqa: E402
import gradwire.dist  # noqa: E402

DATA_DIRS = ("/usr/share/datasets/fashion-mnist",)  # where Debian's dataset-fashion-mnist installs them


def read_idx(path):
    """An IDX file (gzipped) as a numpy array: magic 0x00 0x00 <type> <ndims>, big-endian dims."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndims)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: %d values, header says %s" % (path, arr.size, dims))
    return arr.reshape(dims)


def load_fmnist(data_dir):
    def part(prefix):
        x = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % prefix))
        y = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % prefix))
        x = (torch.from_numpy(x.astype(np.float32)) / 255.0 - 0.2860) / 0.3530
        return x.unsqueeze(1), torch.from_numpy(y.astype(np.int64))
    return part("train"), part("t10k")


class Net(nn.Module):
    """conv5x5(32) - pool - conv5x5(64) - pool - fc(1024 -> 512) - fc(512 -> 10): 582k parameters."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc1 = nn.Linear(64 * 4 * 4, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def labelflip_ranks(config, size):
    """The ranks of attack=labelflip[:ranks=a|b] in a gradwire config string (default: the last rank).
    The library sends what a labelflip rank computes; the attack is in its data, so it lives here."""
    for item in config.split(";"):
        key, _, value = item.partition("=")
        if key.strip() != "attack" or not value.startswith("labelflip"):
            continue
        ranks = [size - 1]
        for kv in value.partition(":")[2].split(","):
            k, _, v = kv.partition("=")
            if k.strip() == "ranks":
                ranks = [int(x) for x in v.split("|")]
        return set(ranks)
    return set()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="none")
    ap.add_argument("--train-subset", type=int, default=19200, help="first N training images (default 19200)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32, help="per rank")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9, help="the optimizer's momentum")
    ap.add_argument("--worker-momentum", type=float, default=0.0,
                    help="every rank sends its momentum m = B m + g (the hook's worker_momentum) instead of its "
                         "gradient, and the optimizer's momentum is 0: what centered clipping is meant for")
    ap.add_argument("--eval-every", type=int, default=30, help="steps between evaluations")
    ap.add_argument("--eval-subset", type=int, default=10000, help="test images for the periodic evaluations (default: all 10000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bucket-mb", type=float, default=None,
                    help="DDP bucket size in MB, the first bucket too (default: DDP's own, 1 MB first then 25 MB); "
                         "PyTorch's powerSGD_hook over gloo needs one bucket (see README)")
    ap.add_argument("--data-dir", default=os.environ.get("FMNIST_DIR"))
    ap.add_argument("--config", default="timeout=120", help="gradwire communicator config")
    ap.add_argument("--label", default="", help="regime label stored in the JSON")
    ap.add_argument("--out", help="JSON written by rank 0")
    args = ap.parse_args()

    torch.set_num_threads(int(os.environ.get("GW_TORCH_THREADS", "1")))
    rank, size = gradwire.dist.init_process_group("gloo")
    data_dir = args.data_dir or next((d for d in DATA_DIRS if os.path.isdir(d)), None)
    if not data_dir:
        sys.exit("no Fashion-MNIST data: apt-get install dataset-fashion-mnist, or pass --data-dir")
    (xtr, ytr), (xte, yte) = load_fmnist(data_dir)
    xtr, ytr = xtr[:args.train_subset], ytr[:args.train_subset]

    flipped = labelflip_ranks(args.config, size)
    if rank in flipped:  # the data attack of the harness: this rank trains on y -> 9 - y
        ytr = 9 - ytr

    torch.manual_seed(args.seed)
    if args.bucket_mb is not None:
        dist._DEFAULT_FIRST_BUCKET_BYTES = int(args.bucket_mb * 1024 * 1024)
        model = DDP(Net(), bucket_cap_mb=args.bucket_mb)
    else:
        model = DDP(Net())
    state = None
    torch_psgd = None
    if args.spec.startswith("torch-powersgd"):
        from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd
        kv = dict(x.split("=") for x in args.spec.partition(":")[2].split(",") if x)
        torch_psgd = psgd.PowerSGDState(process_group=None, matrix_approximation_rank=int(kv.get("rank", 1)),
                                        start_powerSGD_iter=int(kv.get("start", 2)), min_compression_rate=2,
                                        use_error_feedback=True, warm_start=True)
        model.register_comm_hook(torch_psgd, psgd.powerSGD_hook)
    elif args.spec != "gloo":
        state = gradwire.ddp.GradwireHookState(model, spec=args.spec, config=args.config,
                                               worker_momentum=args.worker_momentum)
        model.register_comm_hook(state, gradwire.ddp.gradwire_hook)
    if args.worker_momentum and state is None:
        sys.exit("--worker-momentum needs a gradwire spec (the hook applies it)")
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0 if args.worker_momentum else args.momentum)
    nparams = sum(p.numel() for p in model.parameters())

    steps_per_epoch = len(xtr) // (args.batch_size * size)
    total_steps = steps_per_epoch * args.epochs

    def evaluate(n):
        model.eval()
        idx = torch.arange(rank, n, size)
        with torch.no_grad():
            correct = torch.zeros(2)
            for i in range(0, len(idx), 500):
                b = idx[i:i + 500]
                out = model.module(xte[b])
                correct += torch.tensor([(out.argmax(1) == yte[b]).sum().item(), F.cross_entropy(
                    out, yte[b], reduction="sum").item()])
            dist.all_reduce(correct)
        model.train()
        return correct[0].item() / n, correct[1].item() / n

    curve = []
    train_time = 0.0
    loss_acc = torch.zeros(2)
    step = 0
    dist.barrier()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        mine = perm[rank::size]
        for s in range(steps_per_epoch):
            b = mine[s * args.batch_size:(s + 1) * args.batch_size]
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = F.cross_entropy(model(xtr[b]), ytr[b])
            loss.backward()
            opt.step()
            train_time += time.perf_counter() - t0
            loss_acc += torch.tensor([loss.item(), 1.0])
            step += 1
            if step % args.eval_every == 0 or step == total_steps:
                last = step == total_steps
                acc, test_loss = evaluate(len(xte) if last else min(args.eval_subset, len(xte)))
                dist.all_reduce(loss_acc)
                t = torch.tensor([train_time])
                dist.all_reduce(t, op=dist.ReduceOp.MAX)
                st = state.stats() if state else None
                if torch_psgd is not None:  # PyTorch counts values of compressed steps only
                    plain = min(step, torch_psgd.start_powerSGD_iter) * nparams
                    sent = torch.tensor([4.0 * (torch_psgd.total_numel_after_compression + plain)])
                else:
                    sent = torch.tensor([float(st["bytes_sent"]) if st else 0.0])
                dist.all_reduce(sent)
                curve.append({"step": step, "epoch": epoch + (s + 1) / steps_per_epoch,
                              "train_loss": loss_acc[0].item() / loss_acc[1].item(),
                              "test_acc": acc, "test_loss": test_loss,
                              "test_images": len(xte) if last else min(args.eval_subset, len(xte)),
                              "wall_s": t.item(), "bytes_sent_per_rank": sent.item() / size})
                loss_acc.zero_()
                if rank == 0:
                    c = curve[-1]
                    print("%-22s step %4d  loss %.4f  acc %.4f  %8.1f MB/rank  %7.1f s" % (
                        args.spec, step, c["train_loss"], acc, c["bytes_sent_per_rank"] / 1e6, c["wall_s"]),
                        flush=True)
    result = {"spec": args.spec, "label": args.label, "np": size, "params": nparams,
              "torch": torch.__version__, "steps": total_steps,
              "args": {k: v for k, v in vars(args).items() if k not in ("out", "data_dir")},
              "global_batch": args.batch_size * size, "curve": curve,
              "final": curve[-1], "stats": state.stats() if state else None}
    if rank == 0 and args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
