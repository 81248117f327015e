"""Dumps real gradients for gw-lossless-report: the Fashion-MNIST CNN of
bench/convergence/train_fmnist.py trained for --steps SGD steps (one process,
no gradwire), then each parameter's gradient of the next --batches minibatches
as raw float32 files OUT/step<k>.<name>.f32 (not meant to be committed).

    /usr/bin/python3 bench/lossless/dump_fmnist_grads.py OUT [--steps 200] [--batches 2]
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convergence"))
from train_fmnist import DATA_DIRS, Net, load_fmnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--data-dir", default=os.environ.get("FMNIST_DIR"))
    args = ap.parse_args()
    data_dir = args.data_dir or next((d for d in DATA_DIRS if os.path.isdir(d)), None)
    if not data_dir:
        sys.exit("no Fashion-MNIST data: apt-get install dataset-fashion-mnist, or pass --data-dir")
    torch.manual_seed(1)
    torch.set_num_threads(1)
    (xtr, ytr), _ = load_fmnist(data_dir)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    os.makedirs(args.out, exist_ok=True)
    bs = args.batch_size
    for step in range(args.steps + args.batches):
        i = (step * bs) % (len(xtr) - bs)
        opt.zero_grad()
        F.cross_entropy(model(xtr[i:i + bs]), ytr[i:i + bs]).backward()
        if step >= args.steps:
            for name, p in model.named_parameters():
                p.grad.detach().numpy().astype("<f4").tofile(os.path.join(args.out, "step%d.%s.f32" % (step, name)))
        opt.step()
    print("wrote %d files to %s" % (args.batches * len(list(model.parameters())), args.out))


if __name__ == "__main__":
    main()
