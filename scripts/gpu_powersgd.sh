#!/usr/bin/env bash
# powersgd's device path on a GPU machine, in one command: build what it needs,
# run its GPU unit tests (plain, then under compute-sanitizer's memcheck,
# racecheck and synccheck), gw-powersgd-device-bench (the device steps one by
# one against a device copy), the device-buffer and powersgd tests over MPI
# (ranks sharing the GPU through CUDA MPS, np 2 and 3), the CUDA tests of the
# Python binding and DDP hook (where torch sees the GPU), and the gw-perf rows of
# a 4096 x 4096 layer at rank 1, 4 and 16 (np 2, host and device buffers,
# each against the plain MPI allreduce of the same buffer in the same run).
#
#   scripts/gpu_powersgd.sh OUT_DIR [BUILD_DIR]
#
# Environment: GW_ARCH (CUDA architectures, default 90); GW_PERF_BIN, a gw-perf
# to use where this machine cannot build one (it needs Boost.Program_options
# and nlohmann-json); GW_PERF_ITERS (default 10).
set -uo pipefail

out=${1:?usage: scripts/gpu_powersgd.sh OUT_DIR [BUILD_DIR]}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${2:-$root/build-gpu}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "[gpu_powersgd] $*" | tee -a "$out/run.log"; }
summary() { grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ tests?' "$1" | tr '\n' ' '; }
rc=0

export PATH=/usr/local/cuda/bin:$PATH
log "commit ${GW_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}," \
    "GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGW_WITH_CUDA=ON \
  -DGW_CUDA_ARCHITECTURES="${GW_ARCH:-90}" >"$out/build.log" 2>&1 || { log "configure failed"; tail -20 "$out/build.log"; exit 1; }
targets=(gradwire gw_unit_tests gw_mpi_device_buffers_test gw_mpi_powersgd_test gw-powersgd-device-bench)
grep -q "^build bin/gw-perf:" "$build/build.ninja" && targets+=(gw-perf)
cmake --build "$build" --target "${targets[@]}" -- -j"$(nproc)" >>"$out/build.log" 2>&1 ||
  { log "build failed"; grep -E "error|FAILED" "$out/build.log" | head -30; exit 1; }
log "built ${targets[*]}"

unit=("$build/bin/gw_unit_tests" --gtest_color=no)
"${unit[@]}" --gtest_filter='GpuPowerSgd*:LowRank*:PowerSgd*' >"$out/unit.log" 2>&1 || rc=1
log "unit (GpuPowerSgd*, LowRank*, PowerSgd*): $(summary "$out/unit.log")"
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck synccheck; do
    timeout 200 compute-sanitizer --tool $tool --error-exitcode 9 "${unit[@]}" --gtest_filter='GpuPowerSgd*' \
      >"$out/sanitizer_$tool.log" 2>&1 || rc=1
    log "compute-sanitizer $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer_$tool.log" | tail -1)"
  done
fi

"$build/bin/gw-powersgd-device-bench" >"$out/device_steps.md" 2>&1 || rc=1
log "gw-powersgd-device-bench (one rank's device steps, 4096 x 4096):"
tee -a "$out/run.log" <"$out/device_steps.md"

if command -v nvidia-cuda-mps-control >/dev/null && nvidia-cuda-mps-control -d >>"$out/run.log" 2>&1; then
  trap 'echo quit | nvidia-cuda-mps-control >/dev/null 2>&1' EXIT
  log "CUDA MPS on"
fi
for np in 2 3; do
  for t in device_buffers powersgd; do
    "$root/tests/mpirun.sh" $np "$build/bin/gw_mpi_${t}_test" --gtest_color=no >"$out/mpi_${t}_np$np.log" 2>&1 || rc=1
    log "$t np=$np: $(summary "$out/mpi_${t}_np$np.log") $(grep -h '\[ measured \]' "$out/mpi_${t}_np$np.log" | tr '\n' ' ')"
  done
done

if python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
  GRADWIRE_LIBRARY="$build/lib/libgradwire.so" PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 \
    "$root/tests/python/run_test.sh" python3 2 "$root/tests/python/test_cuda.py" >"$out/python_cuda.log" 2>&1 || rc=1
  log "python CUDA tests (DDP hook, maxmin and powersgd): $(grep -E 'all [0-9]+ tests passed|FAIL' "$out/python_cuda.log" | head -3 | tr '\n' ' ')"
fi

perf=${GW_PERF_BIN:-$build/bin/gw-perf}
if [ -x "$perf" ]; then
  specs="powersgd:rank=1;powersgd:rank=4;powersgd:rank=16;none"
  for where in host device; do
    flag=(); [ $where = device ] && flag=(--device)
    cmd=("$root/tests/mpirun.sh" 2 "$perf" "${flag[@]}" --matrix --check --sizes 64M --iters "${GW_PERF_ITERS:-10}"
         --warmup 3 --compressor "$specs" --json "$out/perf_$where.json")
    log "${cmd[*]}"
    "${cmd[@]}" >"$out/perf_$where.txt" 2>&1 || rc=1
    cat "$out/perf_$where.txt" | tee -a "$out/run.log" | tail -8
  done
else
  log "no gw-perf here (needs Boost.Program_options and nlohmann-json; or set GW_PERF_BIN)"
fi
log "rc=$rc"
exit $rc
