"""The DDP communication hook (CPU, gloo process group, gradwire over MPI):
 - spec none gives the parameters plain DDP (gloo allreduce) gives;
 - maxmin (with per-layer rules) gives exactly what the C API returns for the same
   bucket inputs, layer names and steps;
 - every rank holds bit-identical parameters after every step;
 - save / restore / continue equals an uninterrupted run (also with error
   feedback state: topk's residuals, powersgd's residuals and Q; and with the
   worker momentum buffers);
 - worker momentum with the mean is the optimizer's momentum;
 - bad or disagreeing specs raise GradwireError on every rank, naming the cause and rank."""
import harness

harness.require_torch()

import datetime  # noqa: E402
import io  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

import gradwire  # noqa: E402
import gradwire.ddp  # noqa: E402
import gradwire.dist  # noqa: E402

torch.set_num_threads(1)
R, N = gradwire.dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
CONFIG = "timeout=30;fallback_bytes=0"  # small model: keep its buckets compressed
STEPS = 4


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc1 = nn.Linear(8 * 6 * 6, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


def make(seed=0, momentum=0.9):
    torch.manual_seed(seed)
    # Small buckets (the first one too): the model spans several buckets, some
    # holding several parameters.
    dist._DEFAULT_FIRST_BUCKET_BYTES = 4096
    model = DDP(Net(), bucket_cap_mb=0.01)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum)
    return model, opt


def batch(step):
    g = torch.Generator().manual_seed(1000 * R + step)
    return torch.randn(16, 1, 6, 6, generator=g), torch.randint(0, 10, (16,), generator=g)


def train_step(model, opt, step):
    x, y = batch(step)
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def assert_identical_across_ranks(model, what):
    mine = flat(model)
    parts = [torch.empty_like(mine) for _ in range(N)]
    dist.all_gather(parts, mine)
    for r in range(N):
        assert torch.equal(parts[r], mine), "%s: rank %d's parameters differ from rank %d's" % (what, r, R)


def test_none_equals_plain_ddp():
    a, oa = make()
    b, ob = make()
    st = gradwire.ddp.GradwireHookState(a, spec="none", config=CONFIG)
    a.register_comm_hook(st, gradwire.ddp.gradwire_hook)
    for s in range(STEPS):
        train_step(a, oa, s)
        train_step(b, ob, s)
        pa, pb = flat(a), flat(b)
        assert torch.allclose(pa, pb, rtol=1e-5, atol=1e-6), \
            "step %d: max |hook - plain DDP| = %g" % (s, (pa - pb).abs().max().item())
        assert_identical_across_ranks(a, "none, step %d" % s)
    stats = st.stats()
    assert stats["calls"] > 0 and stats["bytes_sent"] >= stats["bytes_input"], stats
    # Several buckets, and buckets holding several parameters (gw_allreduce_multi).
    plans = list(st._plans.values())
    assert len({key[0] for key in st._plans}) > 1, "expected several DDP buckets"
    assert max(p[0] for p in plans) > 1, "expected a bucket with several parameters"


def test_maxmin_equals_c_api_and_ranks_agree():
    spec = "maxmin:bits=4,bucket=512"
    rules = [("*.bias", "fp16"), ("bn.*", "none")]
    model, opt = make()
    st = gradwire.ddp.GradwireHookState(model, spec=spec, rules=rules, config=CONFIG)
    assert st.specs["fc1.weight"] == spec and st.specs["fc1.bias"] == "fp16" and st.specs["bn.weight"] == "none"
    calls = []

    def recording_hook(state, bucket):
        buf = bucket.buffer()
        before = buf.clone()
        fut = gradwire.ddp.gradwire_hook(state, bucket)
        _, _, _, _, names, offsets, counts = state._plan(bucket, buf)
        calls.append((list(names), list(offsets), list(counts), before, buf.clone()))
        return fut

    model.register_comm_hook(st, recording_hook)
    for s in range(STEPS):
        train_step(model, opt, s)
        assert_identical_across_ranks(model, "maxmin, step %d" % s)
    assert calls
    # The same inputs through the C API on a fresh communicator (steps start at 0 again).
    with gradwire.Communicator(CONFIG) as ref:
        for name, s in st.specs.items():
            ref.set_spec(name, s)
        for names, offsets, counts, before, after in calls:
            x = before.clone()
            ref.allreduce_multi(x, names, offsets, counts, op="avg")
            assert torch.equal(x, after), "hook result differs from gw_allreduce_multi for layers %s" % names
    st_w = st.layer_stats("fc1.weight")
    assert st_w["compression_ratio"] > 2, st_w  # 4 bits + bucket headers; sra at np > 2 sends 2(n-1)/n payloads


def run_for(steps, state_in=None, spec="maxmin:bits=2,bucket=512", start=0, worker_momentum=0.0):
    model, opt = make(momentum=0.0 if worker_momentum else 0.9)
    st = gradwire.ddp.GradwireHookState(model, spec=spec, config=CONFIG, worker_momentum=worker_momentum)
    if state_in is not None:
        buf = io.BytesIO(state_in)
        ck = torch.load(buf)
        model.module.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if ck["gradwire"] is not None:
            st.load_state_dict(ck["gradwire"])
    model.register_comm_hook(st, gradwire.ddp.gradwire_hook)
    for s in range(start, start + steps):
        train_step(model, opt, s)
    out = io.BytesIO()
    torch.save({"model": model.module.state_dict(), "optimizer": opt.state_dict(),
                "gradwire": st.state_dict()}, out)
    return flat(model), out.getvalue(), st


def test_checkpoint_resume_is_exact():
    full, _, _ = run_for(2 * STEPS)
    _, ck, _ = run_for(STEPS)
    resumed, _, _ = run_for(STEPS, state_in=ck, start=STEPS)
    assert torch.equal(resumed, full), "resumed run differs from the uninterrupted one (max diff %g)" % (
        (resumed - full).abs().max().item())
    # Control: the same resume without the hook's state (step counters restart) diverges.
    ck_nohook = torch.load(io.BytesIO(ck))
    ck_nohook["gradwire"] = None
    out = io.BytesIO()
    torch.save(ck_nohook, out)
    fresh, _, _ = run_for(STEPS, state_in=out.getvalue(), start=STEPS)
    assert not torch.equal(fresh, full), "resuming without the hook state should not be exact"
    # A checkpoint from another spec is refused.
    model, _ = make()
    other = gradwire.ddp.GradwireHookState(model, spec="maxmin:bits=8", config=CONFIG)
    harness.expect_raises(ValueError, lambda: other.load_state_dict(torch.load(io.BytesIO(ck))["gradwire"]),
                          "specs differ")


def test_checkpoint_resume_with_error_feedback_is_exact():
    # topk keeps a residual per parameter (error feedback), powersgd a residual
    # and its warm-start Q: the hook's state_dict carries them, so the resumed
    # run is exact; without them the run differs.
    for spec in ("topk:density=0.05", "powersgd:rank=2"):
        checkpoint_resume_with_state(spec)


def checkpoint_resume_with_state(spec, worker_momentum=0.0):
    kw = {"spec": spec, "worker_momentum": worker_momentum}
    full, _, st = run_for(2 * STEPS, **kw)
    if not worker_momentum:
        assert st.layer_stats("fc1.weight")["state_bytes"] > 0, st.layer_stats("fc1.weight")
    _, ck, _ = run_for(STEPS, **kw)
    resumed, _, _ = run_for(STEPS, state_in=ck, start=STEPS, **kw)
    assert torch.equal(resumed, full), "resumed %s run differs (max diff %g)" % (spec, (resumed - full).abs().max().item())
    ck_nohook = torch.load(io.BytesIO(ck))
    ck_nohook["gradwire"] = None
    out = io.BytesIO()
    torch.save(ck_nohook, out)
    fresh, _, _ = run_for(STEPS, state_in=out.getvalue(), start=STEPS, **kw)
    assert not torch.equal(fresh, full), "resuming %s without its state should not be exact" % spec
    return ck


def test_worker_momentum():
    # Sending m = B m + g with the optimizer's momentum at 0 is the optimizer's
    # momentum B when the rule is the plain mean: the same parameters up to the
    # rounding of a sum taken in another order.
    a, oa = make(momentum=0.9)
    b, ob = make(momentum=0.0)
    sa = gradwire.ddp.GradwireHookState(a, spec="none", config=CONFIG)
    sb = gradwire.ddp.GradwireHookState(b, spec="none", config=CONFIG, worker_momentum=0.9)
    a.register_comm_hook(sa, gradwire.ddp.gradwire_hook)
    b.register_comm_hook(sb, gradwire.ddp.gradwire_hook)
    start = flat(a)
    for s in range(2 * STEPS):
        train_step(a, oa, s)
        train_step(b, ob, s)
    moved = (flat(a) - start).abs().max().item()
    diff = (flat(a) - flat(b)).abs().max().item()
    assert diff <= 1e-4 * moved, "worker momentum differs from the optimizer's by %g (the step moved %g)" % (diff, moved)
    assert_identical_across_ranks(b, "worker momentum")
    # Control: without the momentum the run is another one.
    c, oc = make(momentum=0.0)
    sc = gradwire.ddp.GradwireHookState(c, spec="none", config=CONFIG)
    c.register_comm_hook(sc, gradwire.ddp.gradwire_hook)
    for s in range(2 * STEPS):
        train_step(c, oc, s)
    assert (flat(a) - flat(c)).abs().max().item() > 100 * diff
    # The momentum buffers are checkpointed (exact resume; spec none has no other
    # state, so without them the resume differs), and a checkpoint with another
    # momentum is refused.
    ck = checkpoint_resume_with_state("none", worker_momentum=0.9)
    other, _ = make(momentum=0.0)
    so = gradwire.ddp.GradwireHookState(other, spec="none", config=CONFIG, worker_momentum=0.5)
    harness.expect_raises(ValueError, lambda: so.load_state_dict(torch.load(io.BytesIO(ck))["gradwire"]),
                          "worker momentum")
    harness.expect_raises(ValueError, lambda: gradwire.ddp.GradwireHookState(other, spec="none", config=CONFIG,
                                                                              worker_momentum=1.0), "worker_momentum")


def test_bad_and_disagreeing_specs_raise():
    model, _ = make()
    # The same bad spec everywhere.
    harness.expect_raises(gradwire.GradwireError,
                          lambda: gradwire.ddp.GradwireHookState(model, spec="maxmin:bits=99", config=CONFIG),
                          "invalid compressor spec", "bits", "rank %d" % R)
    # A bad spec on the last rank only: every rank raises, naming that rank.
    last = N - 1
    spec = "maxmin:bits=0" if R == last else "maxmin:bits=4"
    e = harness.expect_raises(gradwire.GradwireError,
                              lambda: gradwire.ddp.GradwireHookState(model, spec=spec, config=CONFIG),
                              "invalid compressor spec", "rank")
    assert ("rank %d" % last) in str(e) or ("[%d]" % last) in str(e), str(e)
    # Valid but different specs: every rank raises GW_ERR_MISMATCH, naming the ranks and their specs.
    spec = "maxmin:bits=8" if R == 0 else "fp16"
    e = harness.expect_raises(gradwire.GradwireError,
                              lambda: gradwire.ddp.GradwireHookState(model, spec=spec, config=CONFIG),
                              "GW_ERR_MISMATCH", "ranks disagree", "rank(s) [0]: spec=maxmin:bits=8", "fp16")
    assert e.status_name == "GW_ERR_MISMATCH"
    # Disagreement that slips past the constructor (a spec changed by hand on one rank)
    # is caught by the library inside the hook: backward() raises on every rank, no hang.
    m2, o2 = make()
    st = gradwire.ddp.GradwireHookState(m2, spec="maxmin:bits=4", config=CONFIG)
    m2.register_comm_hook(st, gradwire.ddp.gradwire_hook)
    st.comm.set_spec("fc2.weight", "maxmin:bits=4" if R == 0 else "maxmin:bits=6")
    harness.expect_raises(RuntimeError, lambda: train_step(m2, o2, 0), "GW_ERR_MISMATCH", "rank")


harness.run([test_none_equals_plain_ddp, test_maxmin_equals_c_api_and_ranks_agree,
             test_checkpoint_resume_is_exact, test_checkpoint_resume_with_error_feedback_is_exact,
             test_worker_momentum, test_bad_and_disagreeing_specs_raise])
dist.barrier()
dist.destroy_process_group()
