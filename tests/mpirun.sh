#!/usr/bin/env bash
# Runs a multi-rank test: tests/mpirun.sh NP BINARY [ARGS...].
# Open MPI refuses to run as root unless told it is fine; CI and containers run
# as root, so the launcher (not the user) says so. --oversubscribe lets np
# exceed the cores of a small machine.
set -euo pipefail
np=$1
shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Sanitized builds (GW_SANITIZE=ON): no LeakSanitizer in the ranks. Open MPI leaks
# thousands of blocks by design at MPI_Finalize, many from MCA components it has
# already dlclose()d, so their stacks name no module and a suppressions file
# cannot match them. The unit tests (no MPI) keep leak checking. A caller's
# ASAN_OPTIONS come after, so they win. Ignored by builds without ASan.
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
exec mpirun -np "$np" --oversubscribe --bind-to none ${GW_MPIRUN_ARGS:-} "$@"
