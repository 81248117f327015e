#!/usr/bin/env bash
# The main job: a quick look at what compression buys on this machine.
#
#   bench/scripts/main_job.sh [BUILD_DIR] [OUT_DIR]
#
# Runs gw-perf on 2 ranks in the CPU regimes of BENCHMARKS.md through
# run_regimes.sh: shared memory and TCP loopback (sizes 1M,16M,64M, few
# iterations), and, where network namespaces and tc are permitted (root),
# the 1 Gbit/s rate-limited loopback with smaller sizes so the whole job stays
# within about three minutes. Prints every table, then draws speedup against
# size (plot_speedup.py) and prints where the PNG and SUMMARY.md are.
#
#   bench/scripts/main_job.sh --quick [BUILD_DIR] [OUT_DIR]   (or GW_MAIN_QUICK=1)
#
# --quick: the same regimes and compressors with small sizes (256K,4M; rate
# limited 256K,1M) and 3 iterations, a minute or two in all: to see that the
# job runs here (ctest's main_job_quick runs it so), not to quote the figures.
#
# BUILD_DIR defaults to build (relative to the repository root); OUT_DIR to
# BUILD_DIR/main-job-<date>. Extra settings through the environment (defaults;
# in quick mode the ones in brackets):
#   GW_MAIN_NP (2), GW_MAIN_ITERS (7 [3]), GW_MAIN_LIMITED_ITERS (5 [3]),
#   GW_MAIN_SIZES (1M,16M,64M [256K,4M]), GW_MAIN_LIMITED_SIZES (1M,4M,16M [256K,1M]),
#   GW_MAIN_COMPRESSORS ("maxmin:bits=4;maxmin:bits=8;fp16;none"),
#   GW_MAIN_REGIMES ("shm tcp 1gbit"), GW_MAIN_TIMEOUT (seconds per gw-perf run, 300 [120]).
set -uo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/../.." && pwd)"

quick="${GW_MAIN_QUICK:-0}"
positional=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "main_job.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    *) positional+=("$arg") ;;
  esac
done
set -- "${positional[@]}"

if [[ "$quick" == 1 ]]; then
  sizes=256K,4M limited_sizes=256K,1M iters=3 limited_iters=3 run_timeout=120
else
  sizes=1M,16M,64M limited_sizes=1M,4M,16M iters=7 limited_iters=5 run_timeout=300
fi

build="${1:-build}"
case "$build" in /*) build_abs="$build" ;; *) build_abs="$root/$build" ;; esac
out="${2:-$build_abs/main-job-$(date +%Y%m%d-%H%M%S)}"
case "$out" in /*) ;; *) out="$root/$out" ;; esac

if [[ ! -x "$build_abs/bin/gw-perf" ]]; then
  echo "main_job.sh: no gw-perf in $build_abs/bin; build first:" >&2
  echo "  cmake -S . -B $build -G Ninja && cmake --build $build" >&2
  exit 2
fi

[[ "$quick" == 1 ]] && echo "main_job.sh: quick mode (small sizes, few iterations: a check that the job runs)"
"$script_dir/run_regimes.sh" \
  --build "$build_abs" \
  --out "$out" \
  --np "${GW_MAIN_NP:-2}" \
  --regimes "${GW_MAIN_REGIMES:-shm tcp 1gbit}" \
  --sizes "${GW_MAIN_SIZES:-$sizes}" \
  --limited-sizes "${GW_MAIN_LIMITED_SIZES:-$limited_sizes}" \
  --compressors "${GW_MAIN_COMPRESSORS:-maxmin:bits=4;maxmin:bits=8;fp16;none}" \
  --iters "${GW_MAIN_ITERS:-$iters}" --warmup 1 --limited-iters "${GW_MAIN_LIMITED_ITERS:-$limited_iters}" \
  --timeout "${GW_MAIN_TIMEOUT:-$run_timeout}"
rc=$?

png="$out/speedup.png"
if /usr/bin/python3 "$script_dir/plot_speedup.py" "$out" -o "$png" >/dev/null; then
  plot_ok=1
else
  plot_ok=0
  [[ $rc -ne 0 ]] || rc=1
fi

echo
echo "main_job.sh: summary: $out/SUMMARY.md"
if [[ $plot_ok -eq 1 ]]; then
  echo "main_job.sh: plot: $png"
else
  echo "main_job.sh: the plot could not be drawn (see above)"
fi
[[ $rc -eq 0 ]] && echo "main_job.sh: OK" || echo "main_job.sh: FAILED (exit $rc; see the status table in SUMMARY.md)"
exit $rc
