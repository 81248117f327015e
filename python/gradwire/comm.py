"""The gradwire communicator for Python: a thin ctypes layer over the C API."""
import ctypes
import os

from . import _lib, _mpi


class GradwireError(RuntimeError):
    """A gradwire call failed. Carries the status and gw_last_error()'s detail.

    Attributes: status (int), status_name ("GW_ERR_MISMATCH", ...), detail (the
    library's message, naming the layer, key or peer rank), rank (this rank, or
    None before the communicator exists), function (the C function that failed).
    """

    def __init__(self, status, detail, function=None, rank=None, layer=None):
        self.status = int(status)
        self.status_name = _lib.STATUS_NAMES.get(self.status, "GW_STATUS_%d" % self.status)
        self.detail = detail
        self.function = function
        self.rank = rank
        self.layer = layer
        ctx = []
        if rank is not None:
            ctx.append("rank %d" % rank)
        if layer is not None:
            ctx.append("layer '%s'" % layer)
        where = "gradwire (%s)" % ", ".join(ctx) if ctx else "gradwire"
        if function and function not in detail:
            detail = "%s: %s" % (function, detail)
        if not detail.startswith(self.status_name):
            detail = "%s: %s" % (self.status_name, detail)
        super().__init__("%s: %s" % (where, detail))


_DTYPES_TORCH = None


def _torch_dtypes():
    global _DTYPES_TORCH
    if _DTYPES_TORCH is None:
        import torch
        _DTYPES_TORCH = {torch.float32: _lib.GW_FLOAT32, torch.float16: _lib.GW_FLOAT16,
                         torch.bfloat16: _lib.GW_BFLOAT16}
    return _DTYPES_TORCH


_OPS = {"sum": _lib.GW_SUM, "avg": _lib.GW_AVG, "mean": _lib.GW_AVG}


def _op(op):
    if isinstance(op, int):
        return op
    try:
        return _OPS[str(op).lower()]
    except KeyError:
        raise ValueError("gradwire: op must be 'sum' or 'avg', not %r" % (op,)) from None


def _is_torch(x):
    return type(x).__module__.split(".")[0] == "torch"


def _buffer(x, rank=None, function=None):
    """(address, element count, gw_dtype) of a CPU torch tensor or numpy array."""
    if _is_torch(x):
        if x.device.type not in ("cpu", "cuda"):
            raise GradwireError(9, "%s tensors are not supported: pass a CPU or CUDA tensor" % x.device.type.upper(),
                                function=function, rank=rank)
        dt = _torch_dtypes().get(x.dtype)
        if dt is None:
            raise TypeError("gradwire: dtype %s is not supported (float32, float16, bfloat16)" % x.dtype)
        if not x.is_contiguous():
            raise ValueError("gradwire: the tensor must be contiguous (call .contiguous())")
        return x.data_ptr(), x.numel(), dt
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if np is not None and isinstance(x, np.ndarray):
        dts = {np.dtype(np.float32): _lib.GW_FLOAT32, np.dtype(np.float16): _lib.GW_FLOAT16}
        dt = dts.get(x.dtype)
        if dt is None:
            raise TypeError("gradwire: dtype %s is not supported (float32, float16)" % x.dtype)
        if not x.flags["C_CONTIGUOUS"] or not x.flags["WRITEABLE"]:
            raise ValueError("gradwire: the array must be C-contiguous and writeable")
        return x.ctypes.data, x.size, dt
    raise TypeError("gradwire: expected a torch.Tensor or numpy.ndarray, got %s" % type(x).__name__)


def _stream_of(x):
    """The current CUDA stream of a CUDA tensor's device (as a cudaStream_t), else None.

    gradwire's work on device buffers is ordered on that stream, after what
    PyTorch queued there; over MPI the call returns with the result in place.
    """
    if _is_torch(x) and x.device.type == "cuda":
        import torch
        return ctypes.c_void_p(torch.cuda.current_stream(x.device).cuda_stream)
    return None


def _empty_like_gathered(x, size):
    if _is_torch(x):
        import torch
        return torch.empty((size,) + tuple(x.shape), dtype=x.dtype, device=x.device)
    import numpy as np
    return np.empty((size,) + x.shape, dtype=x.dtype)


class Communicator:
    """A gradwire communicator over MPI_COMM_WORLD (collective: every rank creates it).

    config: the C API's config string, e.g. "compressor=maxmin:bits=4;timeout=60".
    MPI is initialized here if the application has not done it (see _mpi).
    """

    def __init__(self, config=""):
        self._lib = _lib.load()
        _mpi.ensure_initialized()
        self._handle = ctypes.c_void_p()
        self.rank = None
        self.config = config or ""
        self._check(self._lib.gw_comm_create_mpi(ctypes.byref(self._handle), _mpi.comm_world(),
                                                 self.config.encode()), "gw_comm_create_mpi")
        r, s = ctypes.c_int(), ctypes.c_int()
        self._check(self._lib.gw_comm_rank(self._handle, ctypes.byref(r)), "gw_comm_rank")
        self._check(self._lib.gw_comm_size(self._handle, ctypes.byref(s)), "gw_comm_size")
        self.rank, self.size = r.value, s.value
        _mpi.register_comm(self)

    # ---- plumbing -------------------------------------------------------------
    def _check(self, status, function, layer=None):
        if status != _lib.GW_SUCCESS:
            detail = self._lib.gw_last_error().decode(errors="replace")
            raise GradwireError(status, detail, function=function, rank=self.rank, layer=layer)

    def _h(self):
        if not self._handle:
            raise GradwireError(2, "the communicator is closed", rank=self.rank)
        return self._handle

    def close(self):
        """Destroys the communicator (local). Also runs at exit, before MPI_Finalize."""
        if self._handle:
            h, self._handle = self._handle, ctypes.c_void_p()
            if not _mpi.is_finalized():
                self._lib.gw_comm_destroy(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    @property
    def broken(self):
        """True after a timeout broke the communicator (create a new one)."""
        return self._lib.gw_comm_get_state(self._h()) != _lib.GW_SUCCESS

    # ---- per-layer settings -------------------------------------------------------
    def set_spec(self, layer, spec):
        self._check(self._lib.gw_layer_set_spec(self._h(), layer.encode(), spec.encode()),
                    "gw_layer_set_spec", layer)

    def set_robust(self, layer, rule):
        """The layer's robust rule ("median", "cc:tau=1", ...; "none"; "" = the communicator's robust=)."""
        self._check(self._lib.gw_layer_set_robust(self._h(), layer.encode(), rule.encode()),
                    "gw_layer_set_robust", layer)

    def excluded_ranks(self):
        """The ranks a robust rule (SafeguardSGD) removed from the good set for good, ascending."""
        count = ctypes.c_int(0)
        self._check(self._lib.gw_comm_get_excluded(self._h(), None, 0, ctypes.byref(count)), "gw_comm_get_excluded")
        ranks = (ctypes.c_int * max(count.value, 1))()
        self._check(self._lib.gw_comm_get_excluded(self._h(), ranks, count.value, ctypes.byref(count)),
                    "gw_comm_get_excluded")
        return list(ranks[:count.value])

    def get_spec(self, layer):
        return self._spec("gw_layer_get_spec", layer)

    def get_planned_spec(self, layer):
        """The spec the layer travels in now (an lgreco layer: its planned candidate)."""
        return self._spec("gw_layer_get_planned_spec", layer)

    def _spec(self, fn, layer):
        buf = ctypes.create_string_buffer(4096)
        self._check(getattr(self._lib, fn)(self._h(), layer.encode(), buf, len(buf)), fn, layer)
        return buf.value.decode()

    def set_shape(self, layer, shape):
        dims = (ctypes.c_int64 * len(shape))(*shape)
        self._check(self._lib.gw_layer_set_shape(self._h(), layer.encode(), len(shape), dims),
                    "gw_layer_set_shape", layer)

    # ---- collectives ------------------------------------------------------------
    def allreduce(self, tensor, layer, op="avg"):
        """In place: tensor <- op over ranks (compressed with the layer's spec). Returns tensor."""
        ptr, n, dt = _buffer(tensor, self.rank, "gw_allreduce")
        self._check(self._lib.gw_allreduce(self._h(), layer.encode(), ptr, ptr, n, dt, _op(op), _stream_of(tensor)),
                    "gw_allreduce", layer)
        return tensor

    def allgather(self, tensor, layer, out=None):
        """Returns (size, *tensor.shape): every rank's tensor in rank order (compressed)."""
        ptr, n, dt = _buffer(tensor, self.rank, "gw_allgather")
        if out is None:
            out = _empty_like_gathered(tensor, self.size)
        optr, on, odt = _buffer(out, self.rank, "gw_allgather")
        if on != n * self.size or odt != dt:
            raise ValueError("gradwire: allgather out must hold size * numel elements of the same dtype")
        self._check(self._lib.gw_allgather(self._h(), layer.encode(), ptr, optr, n, dt, _stream_of(tensor)),
                    "gw_allgather", layer)
        return out

    def allreduce_multi(self, buffer, layers, offsets, counts, op="avg"):
        """In place over a bucket: layer i covers buffer elements [offsets[i], offsets[i] + counts[i])."""
        k = len(layers)
        if not (k == len(offsets) == len(counts)) or k == 0:
            raise ValueError("gradwire: layers, offsets and counts must be non-empty and of equal length")
        ptr, n, dt = _buffer(buffer, self.rank, "gw_allreduce_multi")
        names = (ctypes.c_char_p * k)(*[name.encode() for name in layers])
        offs = (ctypes.c_size_t * k)(*offsets)
        cnts = (ctypes.c_size_t * k)(*counts)
        for o, c in zip(offsets, counts):
            if o < 0 or c < 0 or o + c > n:
                raise ValueError("gradwire: layer range [%d, %d) outside the buffer of %d elements" % (o, o + c, n))
        self._check(self._lib.gw_allreduce_multi(self._h(), k, names, offs, cnts, ptr, ptr, dt, _op(op),
                                                 _stream_of(buffer)),
                    "gw_allreduce_multi", layers[0] if k == 1 else None)
        return buffer

    # ---- checkpoints ------------------------------------------------------------
    def save_state(self, layer):
        """The layer's state (step counter, statistics, ...) as bytes."""
        size = ctypes.c_size_t(0)
        self._check(self._lib.gw_layer_save_state(self._h(), layer.encode(), None, ctypes.byref(size)),
                    "gw_layer_save_state", layer)
        buf = ctypes.create_string_buffer(size.value)
        self._check(self._lib.gw_layer_save_state(self._h(), layer.encode(), buf, ctypes.byref(size)),
                    "gw_layer_save_state", layer)
        return buf.raw[:size.value]

    def load_state(self, layer, state):
        state = bytes(state)
        self._check(self._lib.gw_layer_load_state(self._h(), layer.encode(), state, len(state)),
                    "gw_layer_load_state", layer)

    # ---- statistics -------------------------------------------------------------
    def layer_stats(self, layer):
        st = _lib.gw_stats()
        self._check(self._lib.gw_layer_stats(self._h(), layer.encode(), ctypes.byref(st)), "gw_layer_stats", layer)
        return st.to_dict()

    def stats(self):
        """Sum over layers: calls, elements, bytes_input, bytes_sent, bytes_received,
        compression_ratio, encode/decode/comm/total_seconds."""
        st = _lib.gw_stats()
        self._check(self._lib.gw_comm_stats(self._h(), ctypes.byref(st)), "gw_comm_stats")
        return st.to_dict()

    def reset_stats(self):
        self._check(self._lib.gw_stats_reset(self._h()), "gw_stats_reset")


def version():
    """Library version as (major, minor, patch)."""
    lib = _lib.load()
    v = ctypes.c_int()
    lib.gw_get_version(ctypes.byref(v))
    return v.value // 10000, (v.value // 100) % 100, v.value % 100
