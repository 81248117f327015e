#!/usr/bin/env bash
# GPU check + benchmark in one go, for a machine with an NVIDIA GPU (H100/H200):
# configure and build (CMake + Ninja, CUDA arch 90), run the GPU unit tests
# (gw_unit_tests --gtest_filter='Gpu*'), optionally the same under
# compute-sanitizer (memcheck, racecheck, synccheck), the multi-rank tests
# (device buffers over MPI with ranks sharing the GPU, np 2..4; the NCCL
# transport, one NCCL rank per GPU where there are enough GPUs, else an NCCL
# world of one per rank), run gw-gpu-bench and gw-perf (MPI with device
# buffers; NCCL against ncclAllReduce on every GPU), and write a markdown report.
#
#   scripts/gpu_run.sh OUT_DIR [BUILD_DIR]
#
# OUT_DIR receives report.md (date, commit, GPU, commands, test summary, bench
# tables) and the full logs. Environment:
#   GW_COMMIT      commit to name in the report when the tree has no .git
#   GW_ARCH        CUDA architectures (default 90)
#   GW_SANITIZE=0  skip the compute-sanitizer pass (default: run it on the small tests)
#   GW_BENCH=0     skip gw-gpu-bench
#   GW_BENCH_ARGS  extra arguments for gw-gpu-bench (e.g. "--sizes-mib 64,256 --reps 30")
#   GW_BENCH_BATCH a second gw-gpu-bench pass timing this many back-to-back calls
#                  per sample (default 10; 0 skips it)
set -uo pipefail

out=${1:?usage: scripts/gpu_run.sh OUT_DIR [BUILD_DIR]}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${2:-$root/build-gpu}
arch=${GW_ARCH:-90}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "[gpu_run] $*" | tee -a "$out/run.log"; }
# GoogleTest's PASSED / FAILED / SKIPPED counts of a log, on one line.
gtest_summary() { grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ tests?' "$1" | tr '\n' ' '; }
# One line per existing $out/LOG_np<np>.log: PREFIX np=<np>: its summary.
summaries() { for np in $2; do [ -f "$out/$1_np$np.log" ] && echo "$3np=$np: $(gtest_summary "$out/$1_np$np.log")"; done; }

commit=${GW_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
dirty=$(git -C "$root" status --porcelain 2>/dev/null | grep -c . || true)
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
[ -n "$gpu" ] || gpu="(nvidia-smi found no GPU)"
log "commit $commit, GPU: $gpu"

# ---- build --------------------------------------------------------------------------
export PATH=/usr/local/cuda/bin:$PATH
t0=$(date +%s)
cfg=(cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGW_WITH_CUDA=ON
     -DGW_CUDA_ARCHITECTURES="$arch" -DGW_BUILD_TESTS=ON -DGW_BUILD_BENCH=ON)
log "${cfg[*]}"
"${cfg[@]}" >"$out/build.log" 2>&1 || { log "configure failed"; tail -30 "$out/build.log"; exit 1; }
targets=(gradwire gw_unit_tests)  # the shared library: the Python tests load it
# The tools need Boost.Program_options and nlohmann-json; without them CMake
# leaves them out (and says so), and so does this run.
has_target() { grep -q "^build bin/$1:" "$build/build.ninja" 2>/dev/null; }
has_target gw-gpu-bench && targets+=(gw-gpu-bench)
[ -f "$build/tests/CTestTestfile.cmake" ] && grep -q mpi_device_buffers "$build/tests/CTestTestfile.cmake" &&
  targets+=(gw_mpi_device_buffers_test gw_mpi_fallback_test gw_mpi_stream_collective_test)
has_target gw-perf && targets+=(gw-perf)
grep -q mpi_nccl "$build/tests/CTestTestfile.cmake" 2>/dev/null && targets+=(gw_mpi_nccl_test)
log "cmake --build $build --target ${targets[*]}"
cmake --build "$build" --target "${targets[@]}" -- -j"$(nproc)" >>"$out/build.log" 2>&1 ||
  { log "build failed"; grep -E "error|FAILED" "$out/build.log" | head -40; exit 1; }
bench_bin=$build/bin/gw-gpu-bench
t1=$(date +%s)
log "build took $((t1 - t0)) s"

# ---- tests --------------------------------------------------------------------------
test_cmd=("$build/bin/gw_unit_tests" --gtest_filter='Gpu*' --gtest_color=no)
log "${test_cmd[*]}"
"${test_cmd[@]}" >"$out/tests.log" 2>&1
test_rc=$?
log "tests rc=$test_rc: $(grep -E '^\[  (PASSED|FAILED) +\] [0-9]+ tests?[,.]|^\[  SKIPPED \] [0-9]+ tests?,' "$out/tests.log" | tr '\n' ' ')"

san_rc=skipped
if [ "${GW_SANITIZE:-1}" != 0 ] && command -v compute-sanitizer >/dev/null; then
  san_cmd=(compute-sanitizer --tool memcheck --error-exitcode 9 "$build/bin/gw_unit_tests" --gtest_color=no
           --gtest_filter='GpuParity.MaxMinPayloadsAndDecodesMatchCpu:GpuParity.NonFiniteFlag:GpuParity.FlagIsSticky*')
  log "timeout 150 ${san_cmd[*]}"
  timeout 150 "${san_cmd[@]}" >"$out/sanitizer.log" 2>&1
  san_rc=$?
  log "compute-sanitizer memcheck rc=$san_rc: $(grep -E 'ERROR SUMMARY' "$out/sanitizer.log" | tail -1)"
  # The stream-ordered NCCL path (one process, an NCCL world of one) under all three tools.
  if [ -x "$build/bin/gw_mpi_nccl_test" ]; then
    # NCCL's communicator setup probes kernels of other architectures and gets
    # cudaErrorNoKernelImageForDevice by design: API errors are not memory errors.
    for tool in memcheck racecheck synccheck; do
      nccl_san=("$root/tests/mpirun.sh" 1 compute-sanitizer --tool $tool --report-api-errors no --error-exitcode 9 "$build/bin/gw_mpi_nccl_test" --gtest_color=no
                --gtest_filter='Codecs/Nccl.AllreduceEqualsMpiTransportBitForBit/3:Codecs/Nccl.AllgatherAndMultiLayerEqualMpiTransport/5:NcclPath.*:-NcclPath.NoHiddenSynchronization')
      log "timeout 240 ${nccl_san[*]}"
      timeout 240 "${nccl_san[@]}" >"$out/sanitizer_nccl_$tool.log" 2>&1
      rc=$?
      [ "$rc" = 0 ] || san_rc=$rc
      log "compute-sanitizer $tool (NCCL path) rc=$rc: $(grep -E 'ERROR SUMMARY' "$out/sanitizer_nccl_$tool.log" | tail -1)"
    done
  fi
fi

# ---- the NCCL transport (before MPS: NCCL and compute-sanitizer want plain contexts) ----
nccl_rc=skipped
if [ -x "$build/bin/gw_mpi_nccl_test" ]; then
  nccl_rc=0
  for np in 1 2 4; do
    log "tests/mpirun.sh $np gw_mpi_nccl_test"
    "$root/tests/mpirun.sh" "$np" "$build/bin/gw_mpi_nccl_test" --gtest_color=no >"$out/mpi_nccl_np$np.log" 2>&1 ||
      nccl_rc=$?
    log "  np=$np: $(gtest_summary "$out/mpi_nccl_np$np.log")"
  done
fi

# ---- ranks sharing the GPU over MPI (device buffers staged through pinned memory) ----
# Several processes on one GPU time-slice between CUDA contexts unless the MPS
# daemon merges them; with GW_MPS=1 (default) it is started for the multi-rank
# runs and stopped at the end.
mps=off
if [ "${GW_MPS:-1}" != 0 ] && command -v nvidia-cuda-mps-control >/dev/null; then
  if nvidia-cuda-mps-control -d >>"$out/run.log" 2>&1; then
    mps=on
    trap 'echo quit | nvidia-cuda-mps-control >/dev/null 2>&1' EXIT
  fi
fi
log "CUDA MPS: $mps"
mpi_rc=skipped
if [ -x "$build/bin/gw_mpi_device_buffers_test" ]; then
  mpi_rc=0
  # BINARY at np 2, 3, 4 into $out/LOG_np<np>.log; a failure sets mpi_rc.
  run_np234() {
    for np in 2 3 4; do
      log "tests/mpirun.sh $np $1"
      "$root/tests/mpirun.sh" "$np" "$build/bin/$1" --gtest_color=no >"$out/$2_np$np.log" 2>&1 || mpi_rc=$?
      log "  np=$np: $(gtest_summary "$out/$2_np$np.log")"
    done
  }
  run_np234 gw_mpi_device_buffers_test mpi_device
  # The stream-ordered algorithms (allgather and SRA) with several ranks on one
  # GPU: over an MPI transport staged through the host, against the MPI path.
  run_np234 gw_mpi_stream_collective_test mpi_stream
  log "tests/mpirun.sh 2 gw_mpi_fallback_test"
  "$root/tests/mpirun.sh" 2 "$build/bin/gw_mpi_fallback_test" --gtest_color=no >"$out/mpi_fallback_np2.log" 2>&1 || mpi_rc=$?
  log "  fallback np=2: $(gtest_summary "$out/mpi_fallback_np2.log")"
fi

# ---- the Python binding and DDP hook on CUDA tensors (the python3 here must have torch with CUDA) ----
py_rc=skipped
if command -v python3 >/dev/null && python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
  log "tests/python/run_test.sh python3 2 tests/python/test_cuda.py"
  GRADWIRE_LIBRARY="$build/lib/libgradwire.so" PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 \
    "$root/tests/python/run_test.sh" python3 2 "$root/tests/python/test_cuda.py" >"$out/python_cuda.log" 2>&1
  py_rc=$?
  log "  python CUDA tests rc=$py_rc: $(grep -E 'all [0-9]+ tests passed|FAIL' "$out/python_cuda.log" | head -3 | tr '\n' ' ')"
fi

# ---- benchmark ----------------------------------------------------------------------
bench_run=("$bench_bin" ${GW_BENCH_ARGS:-})
bench_rc=0
if [ ! -x "$bench_bin" ]; then
  bench_rc=skipped
  log "gw-gpu-bench was not built (no Boost.Program_options or nlohmann-json here): no bandwidth tables"
elif [ "${GW_BENCH:-1}" != 0 ]; then
  log "${bench_run[*]}"
  "${bench_run[@]}" >"$out/bench.md" 2>&1
  bench_rc=$?
  if [ "${GW_BENCH_BATCH:-10}" != 0 ]; then
    log "${bench_run[*]} --batch ${GW_BENCH_BATCH:-10}"
    "${bench_run[@]}" --batch "${GW_BENCH_BATCH:-10}" >"$out/bench_batch.md" 2>&1 || bench_rc=$?
  fi
else
  echo "(skipped: GW_BENCH=0)" >"$out/bench.md"
fi
log "bench rc=$bench_rc"

# ---- gw-perf on device buffers, ranks sharing the GPU over MPI -------------------------
# Pipelined (default chunk_bytes) and not (one round: chunk_bytes=1G), with the
# host-staged plain MPI_Allreduce interleaved as the baseline.
perf_rc=skipped
if [ -x "$build/bin/gw-perf" ] && [ "${GW_PERF:-1}" != 0 ]; then
  perf_rc=0
  perf=("$root/tests/mpirun.sh" 2 "$build/bin/gw-perf" --device --check --iters "${GW_PERF_ITERS:-5}" --warmup 2)
  log "${perf[*]} (pipelined, then one round)"
  "${perf[@]}" --compressor "maxmin:bits=4;maxmin:bits=8;none" --sizes "${GW_PERF_SIZES:-4K,64K,1M,64M,256M,1G}" \
    --json "$out/perf_device.json" >"$out/perf_device.txt" 2>&1 || perf_rc=$?
  "${perf[@]}" --compressor "maxmin:bits=4" --sizes 64M,1G --config "chunk_bytes=1G" \
    --json "$out/perf_device_one_round.json" >"$out/perf_device_one_round.txt" 2>&1 || perf_rc=$?
  log "gw-perf rc=$perf_rc"
  if [ -x "$build/bin/gw_mpi_nccl_test" ]; then
    # NCCL: one rank per GPU (all of them); on one GPU the NCCL world is one rank,
    # which still runs encode, ncclAllGather and decode against ncclAllReduce.
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c GPU || echo 1)
    [ "$mps" = on ] && echo quit | nvidia-cuda-mps-control >/dev/null 2>&1 && mps=stopped
    nperf=("$root/tests/mpirun.sh" "$gpus" "$build/bin/gw-perf" --transport nccl --check
           --iters "${GW_PERF_ITERS:-5}" --warmup 2)
    log "${nperf[*]} (pipelined, then one round)"
    NCCL_NVLS_ENABLE=0 "${nperf[@]}" --compressor "maxmin:bits=4;maxmin:bits=8;none" \
      --sizes "${GW_PERF_SIZES:-4K,64K,1M,64M,256M,1G}" --json "$out/perf_nccl.json" >"$out/perf_nccl.txt" 2>&1 ||
      perf_rc=$?
    NCCL_NVLS_ENABLE=0 "${nperf[@]}" --compressor "maxmin:bits=4" --sizes 64M,1G --config "chunk_bytes=1G" \
      --json "$out/perf_nccl_one_round.json" >"$out/perf_nccl_one_round.txt" 2>&1 || perf_rc=$?
    log "gw-perf nccl rc=$perf_rc"
  fi
fi

# ---- report -------------------------------------------------------------------------
{
  echo "# gradwire GPU codec kernels: parity tests and bandwidth"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $commit$([ "${dirty:-0}" != 0 ] && echo " (+ uncommitted changes)")"
  echo "- GPU (nvidia-smi): $gpu"
  echo "- nvcc: $(nvcc --version | grep -o 'release [0-9.]*, V[0-9.]*' | head -1); arch sm_$arch"
  echo "- command: \`scripts/gpu_run.sh OUT\` (configure: \`$(echo "${cfg[*]}" | sed "s|$build|BUILD|g; s|$root|.|g")\`)"
  echo
  echo "## Tests: \`gw_unit_tests --gtest_filter='Gpu*'\` (rc $test_rc)"
  echo
  echo '```'
  grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) *\]|^\[==========\]' "$out/tests.log"
  echo '```'
  echo
  echo "compute-sanitizer memcheck on the small parity tests: rc $san_rc" \
       "$( [ -f "$out/sanitizer.log" ] && grep -E 'ERROR SUMMARY' "$out/sanitizer.log" | tail -1)"
  echo
  echo "## Device buffers over MPI, ranks sharing the GPU (rc $mpi_rc, CUDA MPS $mps)"
  echo
  echo '```'
  summaries mpi_device "2 3 4" ""
  summaries mpi_stream "2 3 4" "stream-ordered algorithms (allgather, SRA) over the host-staged MPI stream transport, "
  echo '```'
  echo
  echo "## Python binding and DDP hook on CUDA tensors (rc $py_rc)"
  echo
  echo '```'
  [ -f "$out/python_cuda.log" ] && grep -E 'PASS|FAIL|passed|SKIP' "$out/python_cuda.log"
  echo '```'
  echo
  echo "## NCCL transport tests (rc $nccl_rc)"
  echo
  echo '```'
  summaries mpi_nccl "1 2 4" ""
  for tool in memcheck racecheck synccheck; do
    [ -f "$out/sanitizer_nccl_$tool.log" ] &&
      echo "compute-sanitizer $tool (NCCL path): $(grep -E 'ERROR SUMMARY' "$out/sanitizer_nccl_$tool.log" | tail -1)"
  done
  echo '```'
  echo
  for f in perf_device perf_device_one_round perf_nccl perf_nccl_one_round; do
    [ -f "$out/$f.txt" ] || continue
    echo "## gw-perf ($f, rc $perf_rc, CUDA MPS $mps)"
    echo
    echo '```'
    grep -v '^# env' "$out/$f.txt"
    echo '```'
    echo
  done
  echo "## Bandwidth: \`gw-gpu-bench ${GW_BENCH_ARGS:-}\` (rc $bench_rc)"
  echo
  cat "$out/bench.md"
  if [ -f "$out/bench_batch.md" ]; then
    echo "## Bandwidth, back-to-back calls: \`gw-gpu-bench ${GW_BENCH_ARGS:-} --batch ${GW_BENCH_BATCH:-10}\`"
    echo
    cat "$out/bench_batch.md"
  fi
} >"$out/report.md"
log "wrote $out/report.md"
cat "$out/report.md"
[ "$test_rc" = 0 ] && [ "$bench_rc" = 0 ] && { [ "$mpi_rc" = 0 ] || [ "$mpi_rc" = skipped ]; } &&
  { [ "$nccl_rc" = 0 ] || [ "$nccl_rc" = skipped ]; } && { [ "$py_rc" = 0 ] || [ "$py_rc" = skipped ]; } &&
  { [ "$perf_rc" = 0 ] || [ "$perf_rc" = skipped ]; }
