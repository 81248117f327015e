"""MPI for the Python binding, through ctypes only (no mpi4py, nothing compiled).

gw_comm_create_mpi() takes an MPI_Comm, so MPI must be initialized in this
process and we need the value of MPI_COMM_WORLD:

- The libmpi used is the one libgradwire is linked against (found in
  /proc/self/maps after libgradwire is loaded; else GRADWIRE_MPI_LIBRARY, else
  the loader's libmpi). It is (re)opened with RTLD_GLOBAL, which Open MPI needs
  for its dlopen()ed components.
- If MPI is not initialized yet (MPI_Initialized), MPI_Init_thread(NULL, NULL,
  MPI_THREAD_MULTIPLE) is called (the DDP hook may run on autograd threads), and
  MPI_Finalize is registered to run at interpreter exit, after every gradwire
  communicator has been destroyed. If the application initialized MPI itself
  (e.g. mpi4py), it stays in charge of finalizing.
- MPI_COMM_WORLD: in Open MPI it is the address of the global object
  `ompi_mpi_comm_world` (MPI_Comm is a pointer); in MPICH and its derivatives
  it is the integer constant 0x44000000 (MPI_Comm is an int).
"""
import atexit
import ctypes
import ctypes.util
import os
import weakref

MPI_THREAD_MULTIPLE = 3  # same value in Open MPI and MPICH

_libmpi = None
_flavor = None  # "openmpi" | "mpich"
_we_initialized = False
_live_comms = weakref.WeakSet()  # communicators to destroy before MPI_Finalize


def _loaded_libmpi_path():
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rstrip("\n").split(" ")[-1]
                base = os.path.basename(path)
                if base.startswith("libmpi.so") or base.startswith("libmpich.so"):
                    return path
    except OSError:
        pass
    return None


def libmpi():
    """The ctypes handle of libmpi (RTLD_GLOBAL)."""
    global _libmpi, _flavor
    if _libmpi is not None:
        return _libmpi
    path = os.environ.get("GRADWIRE_MPI_LIBRARY") or _loaded_libmpi_path()
    handle = None
    if path:
        try:
            handle = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            handle = None
    if handle is None:
        for name in (ctypes.util.find_library("mpi"), ctypes.util.find_library("mpich"), "libmpi.so.40", "libmpi.so.12"):
            if not name:
                continue
            try:
                handle = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
                break
            except OSError:
                continue
    if handle is None:
        raise OSError("gradwire: cannot find libmpi (set GRADWIRE_MPI_LIBRARY to the libmpi.so "
                      "libgradwire was built against)")
    try:
        handle.ompi_mpi_comm_world  # noqa: B018 (symbol lookup)
        _flavor = "openmpi"
    except AttributeError:
        _flavor = "mpich"
    for fn, args in (("MPI_Initialized", [ctypes.POINTER(ctypes.c_int)]),
                     ("MPI_Finalized", [ctypes.POINTER(ctypes.c_int)]),
                     ("MPI_Init_thread", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                          ctypes.POINTER(ctypes.c_int)]),
                     ("MPI_Finalize", [])):
        f = getattr(handle, fn)
        f.argtypes = args
        f.restype = ctypes.c_int
    _libmpi = handle
    return handle


def comm_ctype():
    """ctypes type of MPI_Comm for the loaded MPI."""
    libmpi()
    return ctypes.c_void_p if _flavor == "openmpi" else ctypes.c_int


def comm_world():
    """MPI_COMM_WORLD as a value to pass where the C API takes an MPI_Comm."""
    lib = libmpi()
    if _flavor == "openmpi":
        return ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(lib, "ompi_mpi_comm_world")))
    return ctypes.c_int(0x44000000)


def is_initialized():
    lib = libmpi()
    flag = ctypes.c_int(0)
    lib.MPI_Initialized(ctypes.byref(flag))
    return bool(flag.value)


def is_finalized():
    lib = libmpi()
    flag = ctypes.c_int(0)
    lib.MPI_Finalized(ctypes.byref(flag))
    return bool(flag.value)


def ensure_initialized():
    """Initializes MPI (MPI_THREAD_MULTIPLE requested) unless the application already did."""
    global _we_initialized
    if is_finalized():
        raise RuntimeError("gradwire: MPI has already been finalized in this process")
    if is_initialized():
        return
    provided = ctypes.c_int(-1)
    rc = libmpi().MPI_Init_thread(None, None, MPI_THREAD_MULTIPLE, ctypes.byref(provided))
    if rc != 0:
        raise RuntimeError("gradwire: MPI_Init_thread failed (error %d)" % rc)
    _we_initialized = True
    atexit.register(_finalize)


def register_comm(comm):
    _live_comms.add(comm)


def _finalize():
    for c in list(_live_comms):
        try:
            c.close()
        except Exception:  # noqa: BLE001 (exit path: never raise)
            pass
    if _we_initialized and not is_finalized():
        libmpi().MPI_Finalize()
