#!/usr/bin/env bash
# The host tests under AddressSanitizer + UndefinedBehaviorSanitizer:
#
#   scripts/sanitized_tests.sh [BUILD_DIR]     (default: build-sanitize)
#
# Configures BUILD_DIR with GW_SANITIZE=ON (cmake/sanitize.cmake), CUDA off (no
# device code to instrument, and the build stays short) and no benchmarks, builds
# it and runs under ctest the unit tests, the C header test and the multi-rank
# tests (mpirun -np 2, 3, 4). Left out:
#  - python_*: CPython and torch are not instrumented; loading the sanitized
#    libgradwire.so into them needs libasan preloaded, and then the reports are
#    about the interpreter and torch, not about gradwire.
#  - install_test: it checks packaging, and its consumer programs are plain
#    executables that ASan refuses to run with a sanitized libgradwire.so.
# Any ASan or UBSan report makes its test fail (UBSan does not recover).
# LeakSanitizer runs in the unit tests; tests/mpirun.sh turns it off in the
# ranks of the multi-rank tests (Open MPI's own leaks; see there).
# Extra arguments for ctest: GW_CTEST_ARGS (e.g. "-R mpi_errors").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-sanitize}
gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi

cmake -S "$root" -B "$build" "${gen[@]}" -DGW_SANITIZE=ON -DGW_WITH_CUDA=OFF -DGW_WITH_NCCL=OFF \
  -DGW_BUILD_BENCH=OFF
cmake --build "$build"
# UBSan prints only the source line by default; the stack says who called.
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# shellcheck disable=SC2086  # GW_CTEST_ARGS is meant to split
ctest --test-dir "$build" --output-on-failure -E '^(python_.*|install_test)$' ${GW_CTEST_ARGS:-}
