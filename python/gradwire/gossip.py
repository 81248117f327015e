"""SwarmSGD gossip for Python: ctypes over include/gradwire/gossip.h.

Every rank trains its own copy of the model; now and then it averages with a
random peer's latest published copy, with no global round (Nadiradze et al.,
NeurIPS 2021). Under mpirun:

    import gradwire.gossip
    with gradwire.gossip.Gossip(model, config="timeout=30") as g:
        for step in range(steps):
            train_step(model)
            if step % H == H - 1:
                partner = g.interact()          # blocking: publish, read a partner, average
    # leaving the block closes the group (collective) and folds the last deltas into model

The non-blocking form overlaps the transfer with the next local steps:

    g.interact_start()                          # publishes and asks a partner
    train_step(model); ...                      # local steps on the model meanwhile
    partner = g.interact_finish()               # averages the partner's copy with the model as it is now

A Gossip keeps one contiguous float32 host buffer (`flat`) of the model's
parameters (in named_parameters() order): before each call the parameters are
copied into it, after the call back out, so the library never sees the model
outside a call (CUDA parameters are staged through it). Pass a flat float32
torch tensor or numpy array instead of a model to gossip that buffer itself, in
place, without copies. Errors raise gradwire.GradwireError naming the rank.
MPI is initialized (MPI_THREAD_MULTIPLE) here if the application has not done it.
"""
import ctypes

from . import _lib, _mpi
from .comm import GradwireError, _buffer, _is_torch


class gw_gossip_stats(ctypes.Structure):
    """include/gradwire/gossip.h's gw_gossip_stats, field for field."""
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "interactions", "served", "deltas_applied", "skipped", "late_replies", "rejected",
        "bytes_sent", "bytes_received", "publishes", "decode_fallbacks", "crossed")] + [
        (name, ctypes.c_double) for name in (
            "staleness_mean_s", "staleness_max_s", "wait_mean_s", "wait_max_s")]

    def to_dict(self):
        return {name: getattr(self, name) for name, _ in self._fields_}


_declared = set()


def _gossip_lib():
    """libgradwire with the gossip calls declared; a clear error when the library predates them."""
    lib = _lib.load()
    if id(lib) in _declared:
        return lib
    P, c_void_p, c_int = ctypes.POINTER, ctypes.c_void_p, ctypes.c_int
    fp = P(ctypes.c_float)
    sigs = {
        "gw_gossip_create": [P(c_void_p), _mpi.comm_ctype(), ctypes.c_size_t, ctypes.c_char_p],
        "gw_gossip_publish": [c_void_p, fp],
        "gw_gossip_interact": [c_void_p, fp, P(c_int)],
        "gw_gossip_interact_start": [c_void_p, fp],
        "gw_gossip_interact_test": [c_void_p, P(c_int)],
        "gw_gossip_interact_finish": [c_void_p, fp, P(c_int)],
        "gw_gossip_stats_get": [c_void_p, P(gw_gossip_stats)],
        "gw_gossip_close": [c_void_p, fp],
        "gw_gossip_destroy": [c_void_p],
    }
    for name, args in sigs.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise OSError("gradwire: %s has no %s (a library built before the gossip API; rebuild it)"
                          % (_lib.library_path(), name)) from None
        f.argtypes = args
        f.restype = c_int
    _declared.add(id(lib))
    return lib


def _comm_value(comm):
    """An MPI_Comm for the C call: None = MPI_COMM_WORLD, an mpi4py communicator, or a raw handle."""
    if comm is None:
        return _mpi.comm_world()
    if hasattr(comm, "Get_rank") and hasattr(comm, "Dup"):  # mpi4py
        from mpi4py import MPI
        comm = MPI._handleof(comm)
    if isinstance(comm, (ctypes.c_void_p, ctypes.c_int)):
        return comm
    return _mpi.comm_ctype()(int(comm))


def _comm_rank_size(comm):
    lib = _mpi.libmpi()
    rank, size = ctypes.c_int(-1), ctypes.c_int(0)
    for fn, out in (("MPI_Comm_rank", rank), ("MPI_Comm_size", size)):
        f = getattr(lib, fn)
        f.argtypes = [_mpi.comm_ctype(), ctypes.POINTER(ctypes.c_int)]
        f.restype = ctypes.c_int
        if f(comm, ctypes.byref(out)) != 0:
            raise RuntimeError("gradwire: %s failed" % fn)
    return rank.value, size.value


class _Handle:
    """The gw_gossip_t; registered with _mpi so that it is destroyed before MPI_Finalize."""

    def __init__(self, lib):
        self.lib = lib
        self.ptr = ctypes.c_void_p()

    def close(self):
        if self.ptr:
            ptr, self.ptr = self.ptr, ctypes.c_void_p()
            if not _mpi.is_finalized():
                self.lib.gw_gossip_destroy(ptr)


class Gossip:
    """A gossip group over comm (collective: every rank of comm creates it with the same count and config).

    model: a torch.nn.Module (its float32 parameters, in named_parameters() order) or a
        contiguous float32 CPU torch tensor / numpy array gossiped in place.
    config: gossip.h's config ("timeout=30;retry=10;seed=1;codec=lattice:bits=8"; GW_GOSSIP_<KEY>
        in the environment fills what the string leaves out).
    comm: None (MPI_COMM_WORLD), an mpi4py communicator or a raw MPI_Comm handle.
    """

    def __init__(self, model, config="", comm=None):
        self._lib = _gossip_lib()
        _mpi.ensure_initialized()
        self.config = config or ""
        self._params = None
        if hasattr(model, "parameters") and callable(model.parameters):
            self._bind_module(model)
        else:
            ptr, n, dt = _buffer(model, function="gw_gossip_create")
            if dt != _lib.GW_FLOAT32:
                raise TypeError("gradwire: gossip needs a float32 buffer")
            if _is_torch(model) and model.device.type != "cpu":
                raise ValueError("gradwire: pass a CPU buffer or the model itself (a CUDA model is staged)")
            self.flat = model
        self._ptr = ctypes.cast(_buffer(self.flat)[0], ctypes.POINTER(ctypes.c_float))
        self.count = _buffer(self.flat)[1]
        mpi_comm = _comm_value(comm)
        self.rank, self.size = _comm_rank_size(mpi_comm)
        self._h = _Handle(self._lib)
        self._check(self._lib.gw_gossip_create(ctypes.byref(self._h.ptr), mpi_comm, self.count,
                                               self.config.encode()), "gw_gossip_create")
        _mpi.register_comm(self._h)
        self._started = False
        self._closed = False
        self._final = None

    def _bind_module(self, module):
        import torch
        params = [p for _, p in module.named_parameters()]
        bad = [name for name, p in module.named_parameters() if p.dtype != torch.float32]
        if bad:
            raise TypeError("gradwire: gossip needs float32 parameters (%s is not)" % bad[0])
        if not params:
            raise ValueError("gradwire: the model has no parameters")
        self._params = params
        self.flat = torch.empty(sum(p.numel() for p in params), dtype=torch.float32)
        self._views, off = [], 0
        for p in params:
            self._views.append(self.flat[off:off + p.numel()].view(p.shape))
            off += p.numel()
        self._copy_in()

    # ---- plumbing -------------------------------------------------------------
    def _copy_in(self):
        if self._params is not None:
            with _no_grad():
                for v, p in zip(self._views, self._params):
                    v.copy_(p.detach())

    def _copy_out(self):
        if self._params is not None:
            with _no_grad():
                for v, p in zip(self._views, self._params):
                    p.copy_(v)

    def _check(self, status, function):
        if status != _lib.GW_SUCCESS:
            detail = self._lib.gw_last_error().decode(errors="replace")
            raise GradwireError(status, detail, function=function, rank=self.rank)

    def _handle(self):
        if not self._h.ptr or self._closed:
            raise GradwireError(2, "the gossip group is closed", rank=self.rank)
        return self._h.ptr

    def _model_call(self, fn, *extra):
        """copy in, fn(handle, flat, *extra), copy out (also after a failure: the library may have folded deltas)."""
        h = self._handle()
        self._copy_in()
        try:
            self._check(getattr(self._lib, fn)(h, self._ptr, *extra), fn)
        finally:
            self._copy_out()

    # ---- the calls --------------------------------------------------------------
    def publish(self):
        """Folds peers' halves of their exchanges into the model, then publishes a snapshot of it."""
        self._model_call("gw_gossip_publish")

    def interact(self):
        """One blocking interaction; returns the partner's rank, or -1 when there was none."""
        partner = ctypes.c_int(-1)
        self._model_call("gw_gossip_interact", ctypes.byref(partner))
        return partner.value

    def interact_start(self):
        """Publishes and asks a partner for its copy; local steps may run until interact_finish()."""
        self._model_call("gw_gossip_interact_start")
        self._started = True

    def interact_test(self):
        """True once interact_finish() would not wait."""
        done = ctypes.c_int(0)
        self._check(self._lib.gw_gossip_interact_test(self._handle(), ctypes.byref(done)), "gw_gossip_interact_test")
        return bool(done.value)

    def interact_finish(self):
        """Waits for the partner's copy (up to timeout) and averages it with the model as it is now;
        returns the partner's rank, or -1 when there was none."""
        partner = ctypes.c_int(-1)
        try:
            self._model_call("gw_gossip_interact_finish", ctypes.byref(partner))
        finally:
            self._started = False
        return partner.value

    @property
    def interacting(self):
        """True between interact_start() and interact_finish()."""
        return self._started

    def stats(self):
        """Counters (interactions, served, deltas_applied, skipped, late_replies, rejected, bytes_sent,
        bytes_received, publishes, decode_fallbacks, crossed) and staleness/wait times in seconds. After close()
        (and after destroy(), e.g. when the with block ends) the counters as close() left them."""
        if not self._h.ptr and self._final is not None:
            return dict(self._final)
        if not self._h.ptr:
            raise GradwireError(2, "the gossip group is destroyed", rank=self.rank)
        st = gw_gossip_stats()
        self._check(self._lib.gw_gossip_stats_get(self._h.ptr, ctypes.byref(st)), "gw_gossip_stats_get")
        return st.to_dict()

    def close(self):
        """Collective: finishes an interaction still open, answers the peers still asking and folds the
        last deltas into the model, so that the sum of the models over ranks is preserved. Idempotent."""
        if self._closed or not self._h.ptr:
            return
        if self._started:
            self.interact_finish()
        self._model_call("gw_gossip_close")
        self._closed = True
        self._final = self.stats()

    def destroy(self):
        """Local: frees the group (closing it without the model first if close() was not called)."""
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self.close()
        finally:
            self.destroy()

    def __del__(self):
        try:
            self.destroy()
        except Exception:  # noqa: BLE001
            pass

    # ---- helpers ----------------------------------------------------------------
    def average(self, communicator):
        """The mean of every rank's flat buffer (collective, over a gradwire.Communicator on the
        same ranks, uncompressed); a new tensor/array, the own buffer untouched."""
        layer = "__gradwire_gossip_average__"
        communicator.set_spec(layer, "none")
        self._copy_in()
        out = self.flat.copy() if not _is_torch(self.flat) else self.flat.clone()
        return communicator.allreduce(out, layer, op="avg")

    def load_flat(self, values):
        """Sets the model (and the flat buffer) to values (same count), e.g. the result of average()."""
        if _is_torch(self.flat):
            self.flat.copy_(values)
        else:
            self.flat[...] = values
        self._copy_out()


def _no_grad():
    import torch
    return torch.no_grad()
