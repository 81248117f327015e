"""gradwire for Python: compressed allreduce / allgather over MPI, and a PyTorch DDP hook.

    import gradwire, gradwire.ddp
    comm = gradwire.Communicator("compressor=maxmin:bits=4;timeout=60")  # MPI_COMM_WORLD
    comm.allreduce(tensor, "fc.weight")                                    # in place, averaged

The C library is found through GRADWIRE_LIBRARY, a build folder next to the
sources (build/lib), or the system loader (see gradwire._lib).
"""
from .comm import Communicator, GradwireError, version
from .gossip import Gossip  # noqa: F401  (SwarmSGD: gradwire.Gossip, see gradwire.gossip)

__all__ = ["Communicator", "GradwireError", "version"]
