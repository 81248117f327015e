"""Loads libgradwire.so and declares the C API (include/gradwire/gradwire.h) for ctypes.

Where the library comes from, first match wins:
  1. the environment variable GRADWIRE_LIBRARY (a file, or a folder holding libgradwire.so);
  2. a build folder next to the source tree: <repo>/build/lib (../../build/lib from this package);
  3. the system loader (libgradwire.so.0 / libgradwire.so, e.g. after `cmake --install`).
"""
import ctypes
import ctypes.util
import os

from . import _mpi

GW_SUCCESS = 0
STATUS_NAMES = {
    0: "GW_SUCCESS",
    1: "GW_ERR_INVALID_ARGUMENT",
    2: "GW_ERR_INVALID_USAGE",
    3: "GW_ERR_MISMATCH",
    4: "GW_ERR_CORRUPT",
    5: "GW_ERR_TIMEOUT",
    6: "GW_ERR_COMM_BROKEN",
    7: "GW_ERR_NONFINITE",
    8: "GW_ERR_REMOTE",
    9: "GW_ERR_UNSUPPORTED",
    10: "GW_ERR_SYSTEM",
    11: "GW_ERR_INTERNAL",
}
GW_FLOAT32, GW_FLOAT16, GW_BFLOAT16 = 0, 1, 2
GW_SUM, GW_AVG = 0, 1


class gw_stats(ctypes.Structure):
    _fields_ = [
        ("calls", ctypes.c_uint64),
        ("elements", ctypes.c_uint64),
        ("bytes_input", ctypes.c_uint64),
        ("bytes_sent", ctypes.c_uint64),
        ("bytes_received", ctypes.c_uint64),
        ("compression_ratio", ctypes.c_double),
        ("encode_seconds", ctypes.c_double),
        ("decode_seconds", ctypes.c_double),
        ("comm_seconds", ctypes.c_double),
        ("total_seconds", ctypes.c_double),
        ("state_resets", ctypes.c_uint64),
        ("state_bytes", ctypes.c_uint64),
        ("decode_retries", ctypes.c_uint64),
        ("ranks_excluded", ctypes.c_uint64),
        ("equivocations", ctypes.c_uint64),
    ]

    def to_dict(self):
        return {name: getattr(self, name) for name, _ in self._fields_}


_lib = None
_lib_path = None


def _candidates():
    env = os.environ.get("GRADWIRE_LIBRARY")
    if env:
        if os.path.isdir(env):
            return [os.path.join(env, "libgradwire.so")], "GRADWIRE_LIBRARY=" + env
        return [env], "GRADWIRE_LIBRARY=" + env
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [os.path.normpath(os.path.join(here, "..", "..", "build", "lib", "libgradwire.so"))]
    found = ctypes.util.find_library("gradwire")
    if found:
        cands.append(found)
    cands += ["libgradwire.so.0", "libgradwire.so"]
    return cands, None


def library_path():
    """Path (or loader name) of the libgradwire that was loaded."""
    load()
    return _lib_path


def load():
    """Loads libgradwire once (and makes its MPI usable); returns the ctypes handle."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    cands, forced = _candidates()
    errors = []
    lib = None
    for c in cands:
        if os.path.sep in c and not os.path.exists(c):
            errors.append("%s: no such file" % c)
            continue
        try:
            lib = ctypes.CDLL(c, mode=ctypes.RTLD_GLOBAL)
            _lib_path = c
            break
        except OSError as e:
            errors.append("%s: %s" % (c, e))
    if lib is None:
        hint = ("set GRADWIRE_LIBRARY to the libgradwire.so of a build "
                "(cmake --build build puts it in build/lib)")
        raise OSError("gradwire: cannot load libgradwire (%s); tried: %s" % (hint, "; ".join(errors)))
    _declare(lib)
    _lib = lib
    return lib


def _declare(lib):
    c_int, c_size_t, c_void_p, c_char_p = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_char_p
    P = ctypes.POINTER
    sigs = {
        "gw_get_version": [P(c_int)],
        "gw_comm_destroy": [c_void_p],
        "gw_comm_rank": [c_void_p, P(c_int)],
        "gw_comm_size": [c_void_p, P(c_int)],
        "gw_comm_get_state": [c_void_p],
        "gw_layer_set_spec": [c_void_p, c_char_p, c_char_p],
        "gw_layer_set_shape": [c_void_p, c_char_p, c_int, P(ctypes.c_int64)],
        "gw_layer_set_robust": [c_void_p, c_char_p, c_char_p],
        "gw_comm_get_excluded": [c_void_p, P(c_int), c_int, P(c_int)],
        "gw_layer_get_spec": [c_void_p, c_char_p, ctypes.c_char_p, c_size_t],
        "gw_layer_get_planned_spec": [c_void_p, c_char_p, ctypes.c_char_p, c_size_t],
        "gw_allreduce": [c_void_p, c_char_p, c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p],
        "gw_allgather": [c_void_p, c_char_p, c_void_p, c_void_p, c_size_t, c_int, c_void_p],
        "gw_allreduce_multi": [c_void_p, c_int, P(c_char_p), P(c_size_t), P(c_size_t), c_void_p, c_void_p,
                               c_int, c_int, c_void_p],
        "gw_layer_save_state": [c_void_p, c_char_p, c_void_p, P(c_size_t)],
        "gw_layer_load_state": [c_void_p, c_char_p, c_void_p, c_size_t],
        "gw_layer_stats": [c_void_p, c_char_p, P(gw_stats)],
        "gw_comm_stats": [c_void_p, P(gw_stats)],
        "gw_stats_reset": [c_void_p],
    }
    for name, args in sigs.items():
        f = getattr(lib, name)
        f.argtypes = args
        f.restype = c_int
    lib.gw_status_string.argtypes = [c_int]
    lib.gw_status_string.restype = c_char_p
    lib.gw_last_error.argtypes = []
    lib.gw_last_error.restype = c_char_p
    # gw_comm_create_mpi(gw_comm_t*, MPI_Comm, const char*): MPI_Comm is a pointer in
    # Open MPI and an int in MPICH; _mpi finds out which, from the libmpi loaded with us.
    f = lib.gw_comm_create_mpi
    f.argtypes = [P(c_void_p), _mpi.comm_ctype(), c_char_p]
    f.restype = c_int
