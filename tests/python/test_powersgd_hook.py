"""gradwire's powersgd through its DDP hook against PyTorch's own powerSGD_hook
(Debian's torch, gloo), same model, data, rank and settings, step by step:
 - the averaged gradients and the parameters agree within fp32 tolerance, for
   rank 2 (Gram-Schmidt on both sides) and rank 4 (PyTorch: Householder QR;
   gradwire: re-orthogonalized Gram-Schmidt, the same columns up to sign);
 - every rank holds bit-identical parameters;
 - gradwire sends fewer bytes than an uncompressed run would.

What makes the two match (PyTorch's PowerSGDState settings on the left):
 - start_powerSGD_iter=S  <->  start=S: plain averaging for the first S steps;
 - min_compression_rate=2 <->  min_rate=2: the same test of which matrices
   compress, (rows + cols) r 2 < rows cols; vectors go uncompressed on both;
 - use_error_feedback, warm_start <-> ef=1, warm=1 (the defaults);
 - orthogonalization_epsilon=0: a zero column stays zero here, NaN there;
 - the first Q: PyTorch draws it from torch's generator, gradwire from its own
   shared key. The test starts PyTorch from gradwire's Q (read from the layer
   state record, which holds Q from a layer's first call on) by filling the
   hook state's q_memory_dict before its first compressed step.
"""
import harness

harness.require_torch()

import datetime  # noqa: E402
import os  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

import gradwire  # noqa: E402
import gradwire.ddp  # noqa: E402
import gradwire.dist  # noqa: E402

torch.set_num_threads(1)
try:
    with gradwire.Communicator("") as _c:
        _c.set_spec("probe", "powersgd")
except gradwire.GradwireError as e:  # a build without BLAS
    print("SKIP: %s" % e)
    sys.stdout.flush()
    os._exit(harness.SKIP)
R, N = gradwire.dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
CONFIG = "timeout=30;fallback_bytes=0"
START = 2
STEPS = 8


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 16, 3, padding=1)   # viewed as 16 x 18
        self.fc1 = nn.Linear(16 * 4 * 4, 64)         # 64 x 256
        self.fc2 = nn.Linear(64, 10)                 # 10 x 64; the biases go uncompressed

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


def make():
    torch.manual_seed(0)
    # One bucket: PyTorch's hook chains its allreduces in future callbacks, and
    # with several buckets those reach gloo in different orders on different
    # ranks (gloo then fails on mismatched sizes). gradwire's hook takes any buckets.
    dist._DEFAULT_FIRST_BUCKET_BYTES = 1 << 30
    model = DDP(Net(), bucket_cap_mb=1024)
    return model, torch.optim.SGD(model.parameters(), lr=0.05)


def batch(step):
    g = torch.Generator().manual_seed(1000 * R + step)
    return torch.randn(16, 2, 4, 4, generator=g), torch.randint(0, 10, (16,), generator=g)


def train_step(model, opt, step):
    x, y = batch(step)
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    opt.step()
    return grads


def q_of(comm, name):
    """Q (cols x r) from a layer's state record (src/scheme/state_record.h, versions 3 to 5:
    version 4 appends the robust rule's section after the scheme state, version 5 the excluded set)."""
    rec = comm.save_state(name)
    magic, version = struct.unpack_from("<II", rec, 0)
    assert magic == 0x53545747 and version in (3, 4, 5), (magic, version)
    at = 4 + 4 + 8 + 8 + 6 * 8 + 4 * 8
    (spec_len,) = struct.unpack_from("<I", rec, at)
    at += 4 + spec_len + 4
    count, vectors, extra = struct.unpack_from("<QIQ", rec, at)
    at += 20 + 4 * vectors * count
    return torch.tensor(struct.unpack_from("<%df" % extra, rec, at), dtype=torch.float32), extra


def compare(rank):
    spec = "powersgd:rank=%d,start=%d" % (rank, START)
    a, oa = make()  # PyTorch's hook
    b, ob = make()  # gradwire's
    st = gradwire.ddp.GradwireHookState(b, spec=spec, config=CONFIG)
    b.register_comm_hook(st, gradwire.ddp.gradwire_hook)
    ps = psgd.PowerSGDState(process_group=None, matrix_approximation_rank=rank, start_powerSGD_iter=START,
                            min_compression_rate=2, use_error_feedback=True, warm_start=True,
                            orthogonalization_epsilon=0)
    name_of = {id(p): n for n, p in a.module.named_parameters()}
    b_param = dict(b.module.named_parameters())
    compressed = set()

    def torch_hook(state, bucket):
        i = bucket.index()
        if state.iter >= START and i not in state.p_memory_dict:
            qs, p_len = [], 0
            for p in bucket.parameters():  # the order of bucket.gradients()
                n, m = p.shape[0], p.numel() // p.shape[0]
                r = min(n, m, rank)
                if p.dim() < 2 or not psgd._should_compress(n, m, r, 2)[0]:
                    continue
                q, extra = q_of(st.comm, name_of[id(p)])
                assert extra == m * r, (name_of[id(p)], extra, m, r)
                qs.append(q.view(r, m).t().reshape(-1))  # gradwire: column-major m x r; PyTorch: (1, m, r)
                p_len += n * r
                compressed.add(name_of[id(p)])
            state.p_memory_dict[i] = torch.empty(p_len)
            state.q_memory_dict[i] = torch.cat(qs) if qs else torch.empty(0)
        return psgd.powerSGD_hook(state, bucket)

    a.register_comm_hook(ps, torch_hook)
    worst = 0.0
    for s in range(STEPS):
        ga = train_step(a, oa, s)
        gb = train_step(b, ob, s)
        for (name, _), x, y in zip(a.module.named_parameters(), ga, gb):
            err = ((x - y).norm() / max(x.norm().item(), 1e-12)).item()
            worst = max(worst, err)
            assert err < 2e-4, "rank=%d step %d %s: |torch - gradwire| / |torch| = %g" % (rank, s, name, err)
        for (name, pa) in a.module.named_parameters():
            d = (pa - b_param[name]).abs().max().item()
            assert d < 1e-5, "rank=%d step %d %s: parameters differ by %g" % (rank, s, name, d)
    want = {"conv.weight", "fc1.weight", "fc2.weight"}
    assert compressed == want, (rank, compressed)
    flat = torch.cat([p.detach().reshape(-1) for p in b.parameters()])
    parts = [torch.empty_like(flat) for _ in range(N)]
    dist.all_gather(parts, flat)
    assert all(torch.equal(x, flat) for x in parts), "ranks' parameters differ"
    stats = st.stats()
    assert stats["bytes_sent"] < stats["bytes_input"] * (N - 1), stats
    if R == 0:
        print("rank=%d: worst relative gradient difference to PyTorch's hook %.2e over %d steps" % (rank, worst, STEPS))


def test_rank2_gram_schmidt_matches_pytorch():
    compare(2)


def test_rank4_matches_pytorchs_qr():
    compare(4)


harness.run([test_rank2_gram_schmidt_matches_pytorch, test_rank4_matches_pytorchs_qr])
