#!/usr/bin/env python3
"""PyTorch DDP with gradwire compressing the gradients: the script to copy.

    mpirun -np 2 python3 examples/ddp_example.py [--spec maxmin:bits=4,bucket=512]
    mpirun -np 2 python3 examples/ddp_example.py --spec powersgd:rank=4   # low rank

(As root or on a small machine: tests/mpirun.sh 2 python3 examples/ddp_example.py.)
The gradwire lines are marked "gradwire": a process group for DDP's own
broadcasts (gloo here), then two lines to reduce gradients through gradwire,
and, for checkpoints, the hook's state saved and loaded next to the model.
libgradwire.so is found through GRADWIRE_LIBRARY, <repo>/build/lib, or the loader.
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))  # uninstalled tree
import gradwire.ddp  # noqa: E402  gradwire
import gradwire.dist  # noqa: E402  gradwire


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="maxmin:bits=4,bucket=512")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--checkpoint", default="", help="save to / resume from this file prefix")
    args = ap.parse_args()

    # torch.distributed from mpirun's environment (MASTER_ADDR 127.0.0.1, a free port).
    rank, world = gradwire.dist.init_process_group("gloo")  # gradwire

    torch.manual_seed(0)
    model = DDP(nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    # The two lines: gradients are averaged by gradwire, compressed with the spec
    # (per-layer state per parameter, with the parameter's shape for low-rank
    # specs; biases and other small tensors uncompressed).
    state = gradwire.ddp.GradwireHookState(model, spec=args.spec, uncompressed_below=1024)  # gradwire
    model.register_comm_hook(state, gradwire.ddp.gradwire_hook)  # gradwire

    start = 0
    ckpt = "%s.rank%d.pt" % (args.checkpoint, rank) if args.checkpoint else None
    if ckpt and os.path.exists(ckpt):
        ck = torch.load(ckpt)
        model.module.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        state.load_state_dict(ck["gradwire"])  # gradwire: the run continues exactly
        start = ck["step"]

    g = torch.Generator().manual_seed(rank)
    w = torch.randn(64, 10, generator=torch.Generator().manual_seed(42))
    for step in range(start, start + args.steps):
        x = torch.randn(32, 64, generator=g)
        y = (x @ w).argmax(1)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if rank == 0 and (step + 1) % 10 == 0:
            print("step %d loss %.4f" % (step + 1, loss.item()))

    if ckpt:  # every rank saves its own gradwire state (statistics are per rank)
        torch.save({"model": model.module.state_dict(), "optimizer": opt.state_dict(),
                    "gradwire": state.state_dict(), "step": start + args.steps}, ckpt)
    st = state.stats()  # gradwire
    if rank == 0:
        print("gradwire: %.2f MB sent by rank 0, compression ratio %.1f" % (st["bytes_sent"] / 1e6,
                                                                          st["compression_ratio"]))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
