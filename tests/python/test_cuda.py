"""CUDA tensors through the binding and the DDP hook, ranks sharing the GPU over MPI
(skipped where torch has no CUDA device, e.g. in CI):
 - allreduce / allgather / allreduce_multi of CUDA tensors equal the same calls on CPU
   tensors bit for bit (the GPU codecs are the CPU codecs' twins);
 - DDP with the hook on a CUDA model: every bucket's result equals what the C API returns
   for the same inputs on the CPU (maxmin: bit for bit; powersgd, which runs on the GPU
   with cuBLAS: within 1e-4 of the bucket's largest value), and every rank holds
   identical parameters."""
import os

import harness

harness.require_torch()

import datetime  # noqa: E402

import torch  # noqa: E402

if not torch.cuda.is_available():
    print("SKIP: torch sees no CUDA device")
    os._exit(harness.SKIP)

import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

import gradwire  # noqa: E402
import gradwire.ddp  # noqa: E402
import gradwire.dist  # noqa: E402

R, N = gradwire.dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
CONFIG = "timeout=60;fallback_bytes=0"
DEV = torch.device("cuda", 0)


def test_tensor_calls_match_cpu():
    g = torch.Generator().manual_seed(100 + R)
    x = torch.randn(300007, generator=g)
    with gradwire.Communicator(CONFIG + ";compressor=maxmin:bits=4") as cpu, \
            gradwire.Communicator(CONFIG + ";compressor=maxmin:bits=4") as gpu:
        a, b = x.clone(), x.clone().to(DEV)
        cpu.allreduce(a, "t")
        gpu.allreduce(b, "t")
        assert torch.equal(a, b.cpu()), "allreduce: CUDA result differs from CPU"
        ga, gb = cpu.allgather(x, "g"), gpu.allgather(x.to(DEV), "g")
        assert gb.device.type == "cuda" and torch.equal(ga, gb.cpu()), "allgather: CUDA result differs from CPU"
        a, b = x.clone(), x.clone().to(DEV)
        cpu.allreduce_multi(a, ["p", "q"], [0, 100000], [90000, 200007])
        gpu.allreduce_multi(b, ["p", "q"], [0, 100000], [90000, 200007])
        assert torch.equal(a, b.cpu()), "allreduce_multi: CUDA result differs from CPU"


def ddp_hook_on_cuda_matches_c_api_on_cpu(spec, same):
    torch.manual_seed(0)
    model = DDP(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(DEV), device_ids=[0],
                bucket_cap_mb=0.01)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    st = gradwire.ddp.GradwireHookState(model, spec=spec, config=CONFIG)
    calls = []

    def recording_hook(state, bucket):
        buf = bucket.buffer()
        before = buf.detach().cpu()
        fut = gradwire.ddp.gradwire_hook(state, bucket)
        _, _, _, _, names, offsets, counts = state._plan(bucket, buf)
        calls.append((list(names), list(offsets), list(counts), before, buf.detach().cpu()))
        return fut

    model.register_comm_hook(st, recording_hook)
    g = torch.Generator().manual_seed(7 + R)
    for _ in range(3):
        x, y = torch.randn(32, 64, generator=g).to(DEV), torch.randint(0, 10, (32,), generator=g).to(DEV)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        mine = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).cpu()
        parts = [torch.empty_like(mine) for _ in range(N)]
        dist.all_gather(parts, mine)
        assert all(torch.equal(p, mine) for p in parts), "ranks' parameters differ"
    assert calls
    with gradwire.Communicator(CONFIG) as ref:
        for name, s in st.specs.items():
            ref.set_spec(name, s)
        for name, p in model.module.named_parameters():
            ref.set_shape(name, tuple(p.shape))  # as the hook does: the unwrapped model's names
        for names, offsets, counts, before, after in calls:
            ref.allreduce_multi(before, names, offsets, counts, op="avg")
            assert same(before, after), "%s: CUDA hook result differs from the CPU C API for %s" % (spec, names)


def test_ddp_hook_on_cuda_matches_c_api_on_cpu():
    ddp_hook_on_cuda_matches_c_api_on_cpu("maxmin:bits=4,bucket=512", torch.equal)


def test_ddp_powersgd_hook_on_cuda_is_close_to_c_api_on_cpu():
    def close(want, got):
        return float((want - got).abs().max()) <= 1e-4 * float(want.abs().max())
    ddp_hook_on_cuda_matches_c_api_on_cpu("powersgd:rank=2", close)


harness.run([test_tensor_calls_match_cpu, test_ddp_hook_on_cuda_matches_c_api_on_cpu,
             test_ddp_powersgd_hook_on_cuda_is_close_to_c_api_on_cpu])
