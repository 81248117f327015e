#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz/ (README there), for a bounded time:
#
#   scripts/fuzz.sh [BUILD_DIR]     (default: build-fuzz)
#
# Configures BUILD_DIR with clang and GW_FUZZ=ON (CUDA, NCCL, MPI, tests and
# benchmarks off: the targets need the host library only), builds the targets
# and runs each on a copy of its committed seed corpus (tests/fuzz/corpus/<t>/,
# left as it is), in two lanes on two cores: `codec` for the whole budget,
# `wire`, `state_record` and `spec` one after the other in the other lane, a
# third of it each. The budget is GW_FUZZ_SECONDS (default 100) of wall time.
# Prints one line per target (runs, exec/s, seconds, result) and fails when
# any target crashed, leaked, hit a sanitizer report or a timeout; crash
# inputs are kept in BUILD_DIR/fuzz-crashes/ (their paths are printed) and
# the fuzzers' logs in BUILD_DIR/fuzz-logs/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-fuzz}
total=${GW_FUZZ_SECONDS:-100}
if ! [[ "$total" =~ ^[0-9]+$ ]] || [ "$total" -lt 4 ]; then
  echo "fuzz.sh: GW_FUZZ_SECONDS must be a whole number of seconds >= 4 (got '$total')" >&2
  exit 2
fi
gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${gen[@]}" -DGW_FUZZ=ON -DGW_WITH_CUDA=OFF \
  -DGW_WITH_NCCL=OFF -DGW_WITH_MPI=OFF -DGW_BUILD_TESTS=OFF -DGW_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target gw_fuzz_all

crashes=$build/fuzz-crashes
logs=$build/fuzz-logs
mkdir -p "$crashes" "$logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# run_target NAME SECONDS: fuzzes NAME on a copy of its corpus; its exit status in $logs/NAME.rc.
run_target() {
  local name=$1 secs=$2
  mkdir -p "$work/$name"
  cp "$root/tests/fuzz/corpus/$name/"* "$work/$name/"
  set +e
  timeout -k 10 $((secs + 120)) "$build/bin/gw_fuzz_$name" "$work/$name" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/$name-" >"$logs/$name.log" 2>&1
  echo $? >"$logs/$name.rc"
  set -e
}

lane=$((total / 3))
rm -f "$crashes"/* "$logs"/*.rc
start=$(date +%s)
run_target codec "$total" &
codec_pid=$!
for name in wire state_record spec; do run_target "$name" "$lane"; done
wait "$codec_pid"
elapsed=$(($(date +%s) - start))

failed=0
for name in codec wire state_record spec; do
  log=$logs/$name.log
  rc=$(cat "$logs/$name.rc")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    result="FAILED (exit $rc"
    for what in "libFuzzer: timeout" "libFuzzer: out-of-memory" "LeakSanitizer" "AddressSanitizer" \
                "runtime error" "invariant broken" "libFuzzer: deadly signal"; do
      if grep -q "$what" "$log"; then result="$result, $what"; break; fi
    done
    result="$result)"
  fi
  printf 'fuzz %-13s runs=%-9s exec/s=%-7s seconds=%-4s result=%s\n' "$name" "${runs:-?}" "${eps:-?}" \
    "${secs:-?}" "$result"
done
echo "fuzz: $total s budget, $elapsed s wall; logs in $logs"
if [ "$failed" != 0 ]; then
  for f in "$crashes"/*; do
    [ -e "$f" ] || continue
    base=$(basename "$f")
    echo "fuzz: crash input $f (reproduce: $build/bin/gw_fuzz_${base%%-*} $f)"
  done
  for name in codec wire state_record spec; do
    if [ "$(cat "$logs/$name.rc")" != 0 ]; then
      echo "---- $name: end of $logs/$name.log"
      tail -n 40 "$logs/$name.log"
    fi
  done
  exit 1
fi
