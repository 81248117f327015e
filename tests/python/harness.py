"""A minimal multi-rank test runner (no pytest needed): every rank runs the same
tests in the same order; a failure prints the traceback and ends the process
with status 1, which makes mpirun end the whole job (no rank is left waiting).
A script exits 77 (ctest's skip code) when torch cannot be imported."""
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

SKIP = 77


def require_torch():
    try:
        import torch  # noqa: F401
    except Exception as e:  # noqa: BLE001
        print("SKIP: torch is not importable by %s: %s" % (sys.executable, e))
        sys.stdout.flush()
        os._exit(SKIP)


def rank():
    return int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "0")))


def run(tests):
    r = rank()
    t_all = time.time()
    for fn in tests:
        t0 = time.time()
        try:
            fn()
        except BaseException:  # noqa: BLE001
            sys.stdout.flush()
            sys.stderr.write("[rank %d] FAIL %s\n%s" % (r, fn.__name__, traceback.format_exc()))
            sys.stderr.flush()
            os._exit(1)
        if r == 0:
            print("[rank 0] PASS %s (%.1fs)" % (fn.__name__, time.time() - t0))
            sys.stdout.flush()
    if r == 0:
        print("all %d tests passed in %.1fs" % (len(tests), time.time() - t_all))
    sys.stdout.flush()


def expect_raises(exc_type, fn, *contains):
    """Calls fn; it must raise exc_type whose message contains every string given."""
    try:
        fn()
    except exc_type as e:
        msg = str(e)
        for c in contains:
            assert c in msg, "expected %r in the error message: %s" % (c, msg)
        return e
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc_type.__name__))
