"""torch.distributed set-up from an MPI launcher's environment (mpirun / srun)."""
import os
import socket

_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "RANK")
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE")


def _env_int(names, default):
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            return int(v)
    return default


def launcher_rank_size():
    """(rank, world size) from the launcher's environment; (0, 1) without a launcher."""
    return _env_int(_RANK_VARS, 0), _env_int(_SIZE_VARS, 1)


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def init_process_group(backend="gloo", comm=None, **kwargs):
    """torch.distributed.init_process_group() for a job started by mpirun.

    Rank and world size come from OMPI_COMM_WORLD_RANK/SIZE (or PMI/PMIx/RANK);
    MASTER_ADDR defaults to 127.0.0.1 (single host; set it for several hosts).
    Without MASTER_PORT, rank 0 picks a free port and tells the others through
    a gradwire allgather over MPI (uncompressed), so concurrent jobs do not clash.
    Returns (rank, world_size).
    """
    import torch
    import torch.distributed as dist

    rank, size = launcher_rank_size()
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if not os.environ.get("MASTER_PORT"):
        from .comm import Communicator
        own = comm is None
        c = Communicator("") if own else comm
        try:
            layer = "__gradwire_master_port__"
            c.set_spec(layer, "none")
            mine = torch.tensor([float(_free_port() if c.rank == 0 else 0)], dtype=torch.float32)
            port = int(c.allgather(mine, layer)[0, 0].item())
        finally:
            if own:
                c.close()
        os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(backend, rank=rank, world_size=size, **kwargs)
    return rank, size
