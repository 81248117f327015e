"""The gossip binding (gradwire.gossip): the sum of the models over ranks survives
interactions and close, models move toward each other with no local steps, local
progress made during a non-blocking interaction is kept, the statistics add up
over ranks, and misuse raises GradwireError naming the cause."""
import harness

harness.require_torch()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gradwire  # noqa: E402
from gradwire.gossip import Gossip  # noqa: E402

comm = gradwire.Communicator("timeout=60")
R, N = comm.rank, comm.size
CONFIG = "timeout=20;retry=5;seed=3"
EPS = float(np.finfo(np.float32).eps)


def gathered(x, layer):
    """Every rank's copy of flat x (exact: compressor none), as float64 (N, count)."""
    comm.set_spec(layer, "none")
    t = torch.as_tensor(x).detach().reshape(-1).to(torch.float32).contiguous()
    return comm.allgather(t.clone(), layer).to(torch.float64)


def barrier():
    gathered(torch.zeros(1), "t.barrier")


def spread(all_x):
    """The largest distance of a rank's model from the mean of the models."""
    return (all_x - all_x.mean(0)).norm(dim=1).max().item()


def sum_tolerance(all_x, interactions):
    """float32 rounding of the two additions per interaction, over N ranks."""
    return 4 * EPS * all_x.abs().max().item() * N * (interactions + 2)


def start(x):
    """Models differ per rank: rank r starts at r + noise, far from the mean."""
    g = torch.Generator().manual_seed(1000 + R)
    x.copy_(torch.randn(x.numel(), generator=g) + 3.0 * R)
    return x


def test_sum_preserved_and_spread_shrinks():
    x = start(torch.empty(20000))
    before = gathered(x, "t.sum.before")
    rounds = 6
    with Gossip(x, config=CONFIG) as g:
        assert g.count == x.numel() and g.rank == R and g.size == N
        g.publish()
        barrier()
        for _ in range(rounds):
            p = g.interact()
            assert p == -1 or (0 <= p < N and p != R), p
            barrier()
            g.publish()  # folds the partners' halves in: everyone's copy is fresh for the next round
            barrier()
        st = g.stats()
    after = gathered(x, "t.sum.after")
    err = (after.sum(0) - before.sum(0)).abs().max().item()
    tol = sum_tolerance(before, rounds * N)
    assert err <= tol, "sum over ranks moved by %g (tolerance %g)" % (err, tol)
    s0, s1 = spread(before), spread(after)
    assert s1 < 0.5 * s0, "spread %g -> %g after %d rounds: models did not move together" % (s0, s1, rounds)
    # Every call exchanged or gave way to the partner's exchange with it (crossing).
    assert st["interactions"] + st["crossed"] == rounds or N == 1, st
    if R == 0:
        print("  np %d: spread %.3f -> %.3f after %d rounds, sum error %.2e (tolerance %.2e)" % (N, s0, s1, rounds,
                                                                                            err, tol))


def test_stats_add_up_over_ranks():
    a = np.full(4096, float(R), dtype=np.float32)  # numpy buffers work too
    with Gossip(a, config=CONFIG) as g:
        g.publish()  # before a peer's first publish there is no copy to serve
        barrier()
        for _ in range(4):
            g.interact()
        barrier()
    st = g.stats()  # allowed after close
    keys = ["interactions", "served", "deltas_applied", "skipped", "rejected", "bytes_sent", "bytes_received",
            "publishes", "late_replies", "decode_fallbacks", "crossed"]
    tot = gathered(torch.tensor([float(st[k]) for k in keys], dtype=torch.float32), "t.stats").sum(0)
    t = dict(zip(keys, tot.tolist()))
    assert t["skipped"] == 0 and t["rejected"] == 0 and t["late_replies"] == 0, t
    assert t["decode_fallbacks"] == 0, t
    assert st["interactions"] <= 4 and st["publishes"] >= st["interactions"], st
    if N > 1:
        assert t["interactions"] >= 1, t
        assert t["served"] == t["interactions"], "every interaction is one copy served: %s" % t
        assert t["interactions"] + t["crossed"] == 4 * N, \
            "every call either exchanged or gave way to its partner's crossing exchange: %s" % t
        assert t["deltas_applied"] == t["interactions"], "after close every delta is folded in: %s" % t
        assert t["bytes_sent"] == t["bytes_received"], "after close every byte sent was received: %s" % t
        assert t["bytes_sent"] >= t["interactions"] * 4 * a.size, "fp32 copies are 4 bytes a value: %s" % t
        assert 0 <= st["staleness_mean_s"] <= st["staleness_max_s"] + 1e-9, st
        assert 0 <= st["wait_mean_s"] <= st["wait_max_s"] + 1e-9, st
    summed = gathered(torch.from_numpy(a), "t.stats.sum").sum(0)
    err = summed.sub(N * (N - 1) / 2.0).abs().max().item()
    assert err <= 4 * EPS * N * N * (4 * N + 2), "sum over ranks moved by %g" % err
    if R == 0:
        print("  np %d: %d interactions, %.0f bytes sent per interaction (%d fp32 values)" % (
            N, t["interactions"], t["bytes_sent"] / max(t["interactions"], 1), a.size))


def test_module_nonblocking_keeps_local_progress():
    torch.manual_seed(50 + R)  # different initial weights per rank
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    n = sum(p.numel() for p in model.parameters())
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    before = gathered(flat0, "t.mod.before")
    progress = 0.0
    with Gossip(model, config=CONFIG) as g:
        assert g.count == n and torch.equal(g.flat, flat0)
        for k in range(3):
            g.interact_start()
            assert g.interacting
            with torch.no_grad():  # a "local step" while the copy travels
                for p in model.parameters():
                    p.add_(0.01 * (k + 1))
            progress += 0.01 * (k + 1)
            while not g.interact_test():
                pass
            p = g.interact_finish()
            assert not g.interacting and (p == -1 or 0 <= p < N), p
            flat = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
            assert torch.equal(flat, g.flat), "the model and the flat buffer must agree after a call"
        g.interact_start()  # left open: close() finishes it
    after = gathered(torch.cat([p.detach().reshape(-1) for p in model.parameters()]), "t.mod.after")
    want = before.sum(0) + N * progress
    err = (after.sum(0) - want).abs().max().item()
    tol = sum_tolerance(after, 4 * N)
    assert err <= tol, "sum over ranks should be the initial sum plus the local steps: off by %g (tol %g)" % (err, tol)


def test_misuse_raises():
    x = torch.zeros(100)
    g = Gossip(x, config=CONFIG)
    e = harness.expect_raises(gradwire.GradwireError, g.interact_finish, "gw_gossip_interact_finish")
    assert e.status_name == "GW_ERR_INVALID_USAGE" and e.rank == R, e
    g.interact_start()
    e = harness.expect_raises(gradwire.GradwireError, g.interact_start, "gw_gossip_interact_start")
    assert e.status_name == "GW_ERR_INVALID_USAGE", e
    g.interact_finish()
    g.close()
    g.close()  # idempotent
    harness.expect_raises(gradwire.GradwireError, g.interact, "closed")
    g.destroy()
    harness.expect_raises(TypeError, lambda: Gossip(torch.zeros(10, dtype=torch.float64)), "float32")
    harness.expect_raises(ValueError, lambda: Gossip(torch.zeros(10)[::2]), "contiguous")


def test_count_mismatch_names_the_rank():
    if N == 1:
        return
    x = torch.zeros(64 + (1 if R == N - 1 else 0))
    e = harness.expect_raises(gradwire.GradwireError, lambda: Gossip(x, config=CONFIG), "gw_gossip_create")
    assert e.status_name == "GW_ERR_MISMATCH", e
    assert str(N - 1) in e.detail, "the message should name rank %d: %s" % (N - 1, e.detail)


harness.run([test_sum_preserved_and_spread_shrinks, test_stats_add_up_over_ranks,
             test_module_nonblocking_keeps_local_progress, test_misuse_raises, test_count_mismatch_names_the_rank])
