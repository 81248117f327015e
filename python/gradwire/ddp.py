"""A PyTorch DDP communication hook that reduces gradient buckets through gradwire.

    state = gradwire.ddp.GradwireHookState(model, spec="maxmin:bits=4,bucket=512")
    model.register_comm_hook(state, gradwire.ddp.gradwire_hook)

DDP hands the hook buckets that hold several parameters; gradwire keeps its
per-layer state (spec, step counter of the stochastic rounding, statistics,
error-feedback residuals, PowerSGD's Q) per *parameter*, named after
model.named_parameters(), with the parameter's shape as the layer's shape hint,
and reduces each bucket with one gw_allreduce_multi call (GW_AVG): one
exchange, or two with powersgd (all P factors of the bucket, then all Q). Works with PyTorch 1.13 and 2.x
(CPU or CUDA tensors: CUDA buckets are reduced on the current stream, over MPI
with the codecs running on the GPU; the hook never touches torch.distributed, so
any process group backend, e.g. gloo, can carry DDP's own broadcasts).

Worker momentum (worker_momentum=B): every rank sends its momentum m = B m + g
instead of its gradient g (per parameter, kept across bucket rebuilds), and the
optimizer runs with momentum 0. With the plain mean this is the optimizer's own
momentum; with a robust rule it is what the rule needs: centered clipping and
the other rules of Karimireddy, He and Jaggi (ICML 2021) are meant for momentum
vectors, whose spread across honest ranks is far smaller than their gradients'.

Checkpoints: state.state_dict() / state.load_state_dict() save and restore the
per-layer state (and the worker momentum), so a resumed run continues exactly.
Save it on every rank (statistics, residuals and momentum are per rank).
"""
import fnmatch
import hashlib

from . import _lib
from .comm import _stream_of, Communicator, GradwireError

STATE_FORMAT = "gradwire-ddp-hook/1"
_CHECK_LAYER = "__gradwire_hook_check__"
_DESC_CHARS = 120


def _unwrap(model):
    try:
        from torch.nn.parallel import DistributedDataParallel as DDP
        if isinstance(model, DDP):
            return model.module
    except ImportError:  # pragma: no cover
        pass
    return model


class GradwireHookState:
    """State of the gradwire DDP hook (collective: construct it on every rank).

    model: the DDP model (or its module); parameter names come from named_parameters().
    spec: compressor spec of every parameter without a rule ("none", "fp16",
        "maxmin:bits=4,bucket=512", ...).
    rules: per-layer overrides, first match wins: a list of (glob pattern on the
        parameter name, spec) pairs, or a callable (name, param) -> spec or None.
    uncompressed_below: parameters with fewer elements go as "none" (biases, norms).
    config: config string of the communicator (timeout, seed, algorithm, ...);
        ignored when comm is given.
    comm: an existing gradwire.Communicator to use.
    worker_momentum: B in [0, 1): send m = B m + g (see the module doc); set the
        optimizer's momentum to 0 with it. 0 sends the gradient.

    Every rank must make the same choices: the constructor checks that they do
    (one small allgather) and raises GradwireError on every rank, naming the
    ranks, when a spec is invalid somewhere or ranks disagree.
    """

    def __init__(self, model, spec="maxmin:bits=8,bucket=512", rules=None, uncompressed_below=0, config="",
                 comm=None, worker_momentum=0.0):
        self.worker_momentum = float(worker_momentum)
        if not 0.0 <= self.worker_momentum < 1.0:  # also refuses NaN
            raise ValueError("gradwire: worker_momentum must be in [0, 1), got %r" % (worker_momentum,))
        self._momentum = {}  # name -> this rank's momentum buffer of the parameter
        self.comm = comm if comm is not None else Communicator(config)
        self.spec = spec
        self.rules = rules
        self.uncompressed_below = int(uncompressed_below)
        self._name_of = {}   # id(param) -> name
        self._params = []    # keeps the parameters alive (ids stay valid)
        self.specs = {}      # name -> spec asked for
        for name, p in _unwrap(model).named_parameters():
            if not p.requires_grad:
                continue
            self._name_of[id(p)] = name
            self._params.append(p)
            self.specs[name] = self._resolve(name, p)
        self._plans = {}
        self._setup()

    # ---- specs ------------------------------------------------------------------
    def _resolve(self, name, p):
        if callable(self.rules):
            s = self.rules(name, p)
            if s:
                return s
        elif self.rules:
            for pattern, s in self.rules:
                if fnmatch.fnmatchcase(name, pattern):
                    return s
        if p.numel() < self.uncompressed_below:
            return "none"
        return self.spec

    def _description(self):
        d = "spec=%s" % self.spec
        if self.rules:
            d += " rules=%s" % (getattr(self.rules, "__name__", None) if callable(self.rules) else list(self.rules))
        if self.uncompressed_below:
            d += " uncompressed_below=%d" % self.uncompressed_below
        if self.worker_momentum:
            d += " worker_momentum=%r" % self.worker_momentum
        return d

    def _setup(self):
        """Sets every layer's spec, then agrees with the other ranks (collective)."""
        import torch

        c = self.comm
        error = None
        for name, s in self.specs.items():
            try:
                c.set_spec(name, s)
            except GradwireError as e:
                error = e
                break
        for p in self._params:  # the matrix view of low-rank specs (powersgd): out x in*kh*kw
            if p.dim() >= 1:
                c.set_shape(self._name_of[id(p)], tuple(p.shape))
        listing = "\n".join("%s=%s" % kv for kv in sorted(self.specs.items()))
        listing = ("%s\nworker_momentum=%r" % (listing, self.worker_momentum)).encode()
        h = int.from_bytes(hashlib.sha256(listing).digest()[:6], "little")
        desc = self._description().encode()[:_DESC_CHARS]
        row = [0.0 if error else 1.0, float(h & 0xFFFF), float((h >> 16) & 0xFFFF), float(h >> 32),
               float(len(self.specs))]
        row += [float(b) for b in desc] + [0.0] * (_DESC_CHARS - len(desc))
        c.set_spec(_CHECK_LAYER, "none")
        rows = c.allgather(torch.tensor(row, dtype=torch.float32), _CHECK_LAYER)

        def text(r):
            return bytes(int(v) for v in r[5:].tolist() if v).decode(errors="replace")

        bad = [r for r in range(c.size) if rows[r, 0].item() != 1.0]
        if bad:
            if error is not None:
                others = [r for r in bad if r != c.rank]
                more = "; also failed on rank(s) %s" % others if others else ""
                raise GradwireError(error.status, "invalid compressor spec for the DDP hook on rank %d: %s%s"
                                    % (c.rank, error.detail, more), function="GradwireHookState", rank=c.rank)
            raise GradwireError(1, "invalid compressor spec for the DDP hook on rank(s) %s (%s); see the error "
                                "on that rank" % (bad, "; ".join("rank %d: %s" % (r, text(rows[r])) for r in bad)),
                                function="GradwireHookState", rank=c.rank)
        keys = [tuple(rows[r, 1:5].tolist()) for r in range(c.size)]
        if any(k != keys[0] for k in keys):
            groups = {}
            for r, k in enumerate(keys):
                groups.setdefault(k, []).append(r)
            parts = ["rank(s) %s: %s (%d layers)" % (rs, text(rows[rs[0]]), int(k[3])) for k, rs in groups.items()]
            raise GradwireError(3, "ranks disagree on the DDP hook's per-layer specs or parameters: " + "; ".join(parts),
                                function="GradwireHookState", rank=c.rank)

    # ---- bucket layout ------------------------------------------------------------
    def _plan(self, bucket, buf):
        import ctypes
        params = bucket.parameters()
        key = (bucket.index(), buf.data_ptr(), buf.numel(), tuple(id(p) for p in params))
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        names, offsets, counts = [], [], []
        grads = bucket.gradients() if hasattr(bucket, "gradients") else None
        itemsize = buf.element_size()
        base, end = buf.data_ptr(), buf.data_ptr() + buf.numel() * itemsize
        off = 0
        for i, p in enumerate(params):
            name = self._name_of.get(id(p))
            if name is None:
                raise GradwireError(1, "a parameter in DDP bucket %d (shape %s) is not among the model's "
                                    "named parameters given to GradwireHookState" % (bucket.index(), tuple(p.shape)),
                                    function="gradwire_hook", rank=self.comm.rank)
            o = off
            if grads is not None and i < len(grads):  # where DDP put the gradient view in the buffer
                g = grads[i]
                if base <= g.data_ptr() < end:
                    o = (g.data_ptr() - base) // itemsize
            names.append(name)
            offsets.append(o)
            counts.append(p.numel())
            off = o + p.numel()
        if any(o + n > buf.numel() for o, n in zip(offsets, counts)):
            raise GradwireError(11, "DDP bucket %d layout does not fit its buffer" % bucket.index(),
                                function="gradwire_hook", rank=self.comm.rank)
        k = len(names)
        plan = (k, (ctypes.c_char_p * k)(*[n.encode() for n in names]), (ctypes.c_size_t * k)(*offsets),
                (ctypes.c_size_t * k)(*counts), names, offsets, counts)
        if len(self._plans) > 1024:  # buckets are rebuilt rarely; never grow without bound
            self._plans.clear()
        self._plans[key] = plan
        return plan

    # ---- worker momentum ---------------------------------------------------------------
    def _apply_worker_momentum(self, buf, names, offsets, counts):
        """m = B m + g per parameter, in the bucket (what is sent); the first step sends g,
        as torch.optim.SGD's first momentum step does. Keyed by name: DDP's bucket
        rebuild after the first step moves parameters, not their momentum."""
        b = self.worker_momentum
        for name, o, n in zip(names, offsets, counts):
            g = buf[o:o + n]
            m = self._momentum.get(name)
            if m is not None and m.device != g.device:  # a checkpoint loaded onto another device
                m = self._momentum[name] = m.to(g.device)
            if m is None or m.numel() != n or m.dtype != g.dtype:
                self._momentum[name] = g.detach().clone()
            else:  # two passes over the layer: g += B m in the bucket, then m = g
                g.add_(m, alpha=b)
                m.copy_(g)

    # ---- checkpoints ----------------------------------------------------------------
    def state_dict(self):
        """Per-layer gradwire state of this rank, for torch.save next to the model."""
        d = {"format": STATE_FORMAT, "rank": self.comm.rank, "world_size": self.comm.size,
             "specs": dict(self.specs),
             "layers": {name: self.comm.save_state(name) for name in self.specs}}
        if self.worker_momentum:
            d["worker_momentum"] = {"beta": self.worker_momentum,
                                    "buffers": {k: v.detach().clone() for k, v in self._momentum.items()}}
        return d

    def load_state_dict(self, state):
        """Restores what state_dict() returned (validated by the library, per layer)."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("gradwire: not a %s state dict" % STATE_FORMAT)
        if state.get("specs") != self.specs:
            changed = sorted(n for n in set(self.specs) | set(state.get("specs", {}))
                             if self.specs.get(n) != state.get("specs", {}).get(n))
            raise ValueError("gradwire: the checkpoint's layers or specs differ from this hook's (%s)"
                             % ", ".join(changed[:5]))
        wm = state.get("worker_momentum")
        if bool(wm) != bool(self.worker_momentum) or (wm and wm.get("beta") != self.worker_momentum):
            raise ValueError("gradwire: the checkpoint's worker momentum (%s) differs from this hook's (%r)"
                             % (wm.get("beta") if wm else "none", self.worker_momentum))
        buffers = dict(wm["buffers"]) if wm else {}
        unknown = sorted(set(buffers) - set(self.specs))
        if unknown:
            raise ValueError("gradwire: the checkpoint's worker momentum names unknown layers (%s)"
                             % ", ".join(unknown[:5]))
        for name, blob in state["layers"].items():
            self.comm.load_state(name, blob)
        self._momentum = {k: v.detach().clone() for k, v in buffers.items()}
        self._plans.clear()

    # ---- statistics ----------------------------------------------------------------
    def stats(self):
        """Totals of this rank over the hook's layers (bytes_sent, compression_ratio, seconds, ...)."""
        total = self.comm.stats()
        try:  # the agreement check's own allgather is not gradient traffic
            chk = self.comm.layer_stats(_CHECK_LAYER)
            for k in ("calls", "elements", "bytes_input", "bytes_sent", "bytes_received"):
                total[k] -= chk[k]
            for k in ("encode_seconds", "decode_seconds", "comm_seconds", "total_seconds"):
                total[k] -= chk[k]
            total["compression_ratio"] = total["bytes_input"] / total["bytes_sent"] if total["bytes_sent"] else 0.0
        except GradwireError:
            pass
        return total

    def layer_stats(self, name):
        return self.comm.layer_stats(name)


def gradwire_hook(state, bucket):
    """DDP communication hook: averages the bucket with gw_allreduce_multi, in place."""
    import torch

    buf = bucket.buffer() if hasattr(bucket, "buffer") else bucket.get_tensor()
    if buf.device.type not in ("cpu", "cuda"):
        raise GradwireError(9, "the DDP hook takes CPU or CUDA gradients (bucket on %s)" % buf.device,
                            function="gradwire_hook", rank=state.comm.rank)
    if not buf.is_contiguous():
        buf = buf.contiguous()
    dt = {torch.float32: _lib.GW_FLOAT32, torch.float16: _lib.GW_FLOAT16, torch.bfloat16: _lib.GW_BFLOAT16}.get(buf.dtype)
    if dt is None:
        raise GradwireError(1, "gradient dtype %s is not supported" % buf.dtype, function="gradwire_hook",
                            rank=state.comm.rank)
    k, names, offs, cnts, pynames, pyoffs, pycnts = state._plan(bucket, buf)
    if state.worker_momentum:
        state._apply_worker_momentum(buf, pynames, pyoffs, pycnts)
    c = state.comm
    ptr = buf.data_ptr()
    c._check(c._lib.gw_allreduce_multi(c._h(), k, names, offs, cnts, ptr, ptr, dt, _lib.GW_AVG, _stream_of(buf)),
             "gw_allreduce_multi", pynames[0] if k == 1 else None)
    fut = torch.futures.Future()
    fut.set_result(buf)
    return fut
