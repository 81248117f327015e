"""CUDA tensors through the binding and the DDP hook (GPU machine; ranks may
share one GPU): the same inputs give bit-identical results on CUDA and CPU,
since the GPU codecs reproduce the CPU ones exactly. Skipped without a GPU."""
import os

import harness

harness.require_torch()

import torch  # noqa: E402

if not torch.cuda.is_available():
    print("SKIP: no CUDA device")
    os._exit(harness.SKIP)

import gradwire  # noqa: E402
import gradwire.ddp  # noqa: E402
import gradwire.dist  # noqa: E402

cpu = gradwire.Communicator("timeout=60;compressor=maxmin:bits=4")
gpu = gradwire.Communicator("timeout=60;compressor=maxmin:bits=4")
R = cpu.rank
dev = torch.device("cuda", 0)


def make(n, salt):
    g = torch.Generator().manual_seed(1000 * salt + R)
    return torch.randn(n, generator=g)


def test_allreduce_cuda_equals_cpu():
    for spec in ("none", "fp16", "maxmin:bits=4", "maxmin:bits=8", "qsgd:bits=4", "nuq:bits=4"):
        layer = "c." + spec
        cpu.set_spec(layer, spec)
        gpu.set_spec(layer, spec)
        for n in (1, 1001, 300007):
            x = make(n, n)
            y = x.to(dev)
            cpu.allreduce(x, layer)
            gpu.allreduce(y, layer)
            assert torch.equal(y.cpu(), x), (spec, n)


def test_bucket_multi_cuda_equals_cpu():
    names = ["b.w", "b.bias", "b.v"]
    counts = [70000, 17, 5000]
    offs = [0, 70000, 70017]
    x = make(sum(counts), 7)
    y = x.to(dev)
    cpu.allreduce_multi(x, names, offs, counts)
    gpu.allreduce_multi(y, names, offs, counts)
    assert torch.equal(y.cpu(), x)


def test_ddp_hook_on_cuda_model():
    gradwire.dist.init_process_group("gloo")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(dev)
    model = torch.nn.parallel.DistributedDataParallel(net)
    state = gradwire.ddp.GradwireHookState(model, spec="maxmin:bits=4", uncompressed_below=256)
    model.register_comm_hook(state, gradwire.ddp.gradwire_hook)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(R)
    for _ in range(3):
        opt.zero_grad()
        loss = model(torch.randn(32, 64, generator=g).to(dev)).square().mean()
        loss.backward()
        opt.step()
    flat = torch.cat([p.detach().flatten().cpu() for p in model.parameters()])
    cpu.set_spec("ddp.check", "none")  # exact gather: every rank must hold the same bits
    everyone = cpu.allgather(flat, "ddp.check")
    for r in range(cpu.size):
        assert torch.equal(everyone[r], flat), "rank %d's parameters differ from rank %d's" % (r, R)


harness.run([test_allreduce_cuda_equals_cpu, test_bucket_multi_cuda_equals_cpu, test_ddp_hook_on_cuda_model])
