"""The ctypes binding: collectives on CPU tensors and numpy arrays, statistics,
layer state, and errors raised as GradwireError naming the cause and the rank."""
import harness

harness.require_torch()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gradwire  # noqa: E402

# fallback_bytes=0: these small tensors exercise compression, not the plain path.
comm = gradwire.Communicator("timeout=30;fallback_bytes=0")
R, N = comm.rank, comm.size


def test_version_and_size():
    assert gradwire.version() >= (0, 1, 0), gradwire.version()
    assert N == harness_size(), (N, harness_size())
    assert 0 <= R < N


def harness_size():
    import os
    return int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))


def test_allreduce_none_exact():
    comm.set_spec("t.none", "none")
    x = torch.arange(1000, dtype=torch.float32) * (R + 1)
    out = comm.allreduce(x, "t.none")
    assert out is x
    mean = torch.arange(1000, dtype=torch.float32) * (sum(range(1, N + 1)) / N)
    assert torch.allclose(x, mean, rtol=1e-6), (x[:4], mean[:4])
    y = torch.full((10,), float(R))
    comm.set_spec("t.none.sum", "none")
    comm.allreduce(y, "t.none.sum", op="sum")
    assert torch.equal(y, torch.full((10,), float(sum(range(N)))))


def test_allreduce_numpy_and_fp16():
    comm.set_spec("t.np", "none")
    a = np.full(100, R + 1.0, dtype=np.float32)
    comm.allreduce(a, "t.np")
    assert np.allclose(a, (N + 1) / 2.0)
    comm.set_spec("t.half", "fp16")
    h = torch.full((64,), 0.5 * (R + 1), dtype=torch.float16)
    comm.allreduce(h, "t.half")
    assert torch.allclose(h.float(), torch.full((64,), 0.25 * (N + 1)), rtol=1e-3)
    assert comm.get_spec("t.half").startswith("fp16")
    assert comm.get_planned_spec("t.half") == comm.get_spec("t.half")


def test_lgreco_plan_is_visible():
    comm.set_spec("t.lg", "lgreco:warmup=1,period=10")
    x = torch.randn(20000, generator=torch.Generator().manual_seed(7 + R)) * 1e-3
    assert comm.get_planned_spec("t.lg") == "maxmin:bits=4,bucket=512"  # the uniform setting first
    for _ in range(2):
        comm.allreduce(x.clone(), "t.lg")
    planned = comm.get_planned_spec("t.lg")
    assert planned.startswith("maxmin:bits="), planned
    assert comm.get_spec("t.lg").startswith("lgreco:"), comm.get_spec("t.lg")


def test_maxmin_bit_identical_across_ranks():
    comm.set_spec("t.q", "maxmin:bits=4,bucket=512")
    g = torch.Generator().manual_seed(100 + R)
    x = torch.randn(5000, generator=g)
    comm.allreduce(x, "t.q")
    comm.set_spec("t.q.check", "none")
    allx = comm.allgather(x, "t.q.check")
    for r in range(N):
        assert torch.equal(allx[r], x), "rank %d's result differs from rank %d's" % (r, R)


def test_allgather_and_multi():
    comm.set_spec("t.ag", "none")
    x = torch.full((3, 2), float(R))
    g = comm.allgather(x, "t.ag")
    assert g.shape == (N, 3, 2)
    for r in range(N):
        assert torch.equal(g[r], torch.full((3, 2), float(r)))
    buf = torch.cat([torch.full((10,), float(R)), torch.full((5,), 2.0 * R)])
    comm.set_spec("t.m.a", "none")
    comm.set_spec("t.m.b", "none")
    comm.allreduce_multi(buf, ["t.m.a", "t.m.b"], [0, 10], [10, 5], op="sum")
    s = float(sum(range(N)))
    assert torch.equal(buf, torch.cat([torch.full((10,), s), torch.full((5,), 2 * s)]))


def test_stats_and_state():
    comm.reset_stats()
    comm.set_spec("t.st", "maxmin:bits=8,bucket=512")
    x = torch.ones(4096)
    comm.allreduce(x, "t.st")
    st = comm.layer_stats("t.st")
    assert st["calls"] == 1 and st["elements"] == 4096 and st["bytes_input"] == 4096 * 4, st
    assert 0 < st["bytes_sent"] < 4096 * 4 and st["compression_ratio"] > 2, st
    tot = comm.stats()
    assert tot["bytes_sent"] == st["bytes_sent"], (tot, st)
    blob = comm.save_state("t.st")
    assert isinstance(blob, bytes) and len(blob) > 0
    comm.load_state("t.st", blob)
    e = harness.expect_raises(gradwire.GradwireError, lambda: comm.load_state("t.st", blob[:-1]), "GW_ERR_CORRUPT")
    assert e.status_name == "GW_ERR_CORRUPT" and e.rank == R
    harness.expect_raises(gradwire.GradwireError, lambda: comm.load_state("t.other", blob), "another layer")


def test_robust_rule_per_layer():
    # Rank r sends r + 1 everywhere, the last rank 1000: the median of the
    # per-rank values is unmoved by it (N >= 3), the mean is not.
    comm.set_spec("t.rob", "none")
    comm.set_robust("t.rob", "median")
    x = torch.full((2048,), 1000.0 if (R == N - 1 and N >= 3) else float(R + 1))
    comm.allreduce(x, "t.rob")
    vals = sorted([float(q + 1) for q in range(N - 1)] + [1000.0 if N >= 3 else float(N)])
    mid = len(vals) // 2
    want = vals[mid] if len(vals) % 2 else vals[mid - 1] * 0.5 + vals[mid] * 0.5
    assert torch.equal(x, torch.full((2048,), want)), (x[:4], want)
    assert comm.excluded_ranks() == []
    assert comm.stats()["ranks_excluded"] == 0
    harness.expect_raises(gradwire.GradwireError, lambda: comm.set_robust("t.rob", "krum:q=1"), "q")
    comm.set_robust("t.rob", "")  # the communicator's robust= (none) again


def test_errors():
    e = harness.expect_raises(gradwire.GradwireError, lambda: comm.set_spec("t.bad", "maxmin:bits=99"),
                              "GW_ERR_INVALID_ARGUMENT", "bits", "rank %d" % R)
    assert e.status == 1 and e.layer == "t.bad"
    harness.expect_raises(gradwire.GradwireError, lambda: comm.set_spec("t.bad", "zstd9"), "rank %d" % R)
    # Ranks with different specs for one layer: every rank raises, naming a peer.
    comm.set_spec("t.mis", "maxmin:bits=4" if R == 0 else "maxmin:bits=8")
    e = harness.expect_raises(gradwire.GradwireError, lambda: comm.allreduce(torch.ones(1000), "t.mis"),
                              "GW_ERR_MISMATCH", "rank %d" % (1 if R == 0 else 0))
    assert e.status_name == "GW_ERR_MISMATCH"
    # The communicator still works afterwards.
    comm.set_spec("t.after", "none")
    y = torch.ones(8)
    comm.allreduce(y, "t.after")
    assert torch.equal(y, torch.ones(8))
    # Tensors on other devices than CPU and CUDA: a clear error (CUDA ones: test_cuda.py).
    harness.expect_raises(gradwire.GradwireError, lambda: comm.allreduce(torch.empty(4, device="meta"), "t.dev"),
                          "GW_ERR_UNSUPPORTED", "CPU or CUDA tensor")
    harness.expect_raises(TypeError, lambda: comm.allreduce(torch.ones(4, dtype=torch.float64), "t.f64"), "float64")
    harness.expect_raises(ValueError, lambda: comm.allreduce(torch.ones(4, 4).t(), "t.nc"), "contiguous")
    harness.expect_raises(ValueError, lambda: comm.allreduce(torch.ones(4), "t.op", op="max"), "op")


harness.run([test_version_and_size, test_allreduce_none_exact, test_allreduce_numpy_and_fp16,
             test_maxmin_bit_identical_across_ranks, test_allgather_and_multi, test_stats_and_state, test_robust_rule_per_layer, test_errors])
comm.close()
