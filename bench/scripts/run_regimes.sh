#!/usr/bin/env bash
# Runs gw-perf in the CPU bandwidth regimes of BENCHMARKS.md and writes, per
# regime and rank count, the table (text) and rows (JSON), plus SUMMARY.md with
# date, commit, machine and the exact command lines.
#
#   shm     mpirun defaults (Open MPI shared memory, vader)
#   tcp     --mca btl tcp,self --mca btl_tcp_if_include lo
#   1gbit   all ranks in one network namespace whose loopback is limited by
#   10gbit  "tc qdisc ... tbf rate 1gbit" (10gbit); MPI (btl and oob) over TCP on lo.
#           One limited loopback is a single shared medium: both directions and
#           all ranks share the rate.
#
# The rate-limited regimes need root (ip netns, tc); where they are not
# permitted they are reported as skipped, with the reason, not as failures.
#
# Usage: bench/scripts/run_regimes.sh [options] [-- extra gw-perf options]
#   --build DIR            build directory holding bin/gw-perf (default: build)
#   --np "2 4"             rank counts
#   --sizes 1M,16M,64M     gw-perf --sizes for shm and tcp
#   --limited-sizes LIST   gw-perf --sizes for 1gbit/10gbit (default: --sizes)
#   --compressors "S1;S2"  compressor specs, ';'-separated
#                          (default "maxmin:bits=4;maxmin:bits=8;fp16;none")
#   --iters K --warmup W   timed / untimed iterations (default 10 / 3)
#   --limited-iters K      iterations in the rate-limited regimes (default: --iters)
#   --regimes "shm tcp 1gbit 10gbit"   which regimes, in order
#   --out DIR              output folder (default bench/results/cpu-<date>)
#   --no-check             do not pass --check to gw-perf
#   --timeout S            limit per gw-perf run in seconds (default 1200)
# Exit status: 0 when every run that was attempted succeeded.
set -uo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/../.." && pwd)"

build="build"
nps="2 4"
sizes="1M,16M,64M"
limited_sizes=""
compressors="maxmin:bits=4;maxmin:bits=8;fp16;none"
iters=10
warmup=3
limited_iters=""
regimes="shm tcp 1gbit 10gbit"
out=""
check=1
run_timeout=1200
extra=()

die() { echo "run_regimes.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --np) nps="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --limited-sizes) limited_sizes="$2"; shift 2 ;;
    --compressors) compressors="$2"; shift 2 ;;
    --iters) iters="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --limited-iters) limited_iters="$2"; shift 2 ;;
    --regimes) regimes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-check) check=0; shift ;;
    --timeout) run_timeout="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
done
[[ -n "$limited_sizes" ]] || limited_sizes="$sizes"
[[ -n "$limited_iters" ]] || limited_iters="$iters"

# Relative paths are taken from the repository root (so the script runs from anywhere).
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
build_abs="$(abspath "$build")"
[[ -n "$out" ]] || out="bench/results/cpu-$(date +%Y%m%d-%H%M%S)"
out_abs="$(abspath "$out")"
perf="$build_abs/bin/gw-perf"
[[ -x "$perf" ]] || die "no gw-perf at $perf (build first: cmake -S . -B $build && cmake --build $build)"
mkdir -p "$out_abs" || die "cannot create $out_abs"

# How a path is written into the result files: relative to the repository when
# it lies inside it, else a placeholder (files must not carry this machine's paths).
show() {
  case "$1" in
    "$root") echo "." ;;
    "$root"/*) echo "${1#"$root"/}" ;;
    "$build_abs") echo "<build>" ;;
    "$build_abs"/*) echo "<build>/${1#"$build_abs"/}" ;;
    "$out_abs") echo "<out>" ;;
    "$out_abs"/*) echo "<out>/${1#"$out_abs"/}" ;;
    *) echo "<$(basename "$1")>" ;;
  esac
}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mpirun_base=(mpirun --oversubscribe --bind-to none)
tcp_mca=(--mca btl "tcp,self" --mca btl_tcp_if_include lo)
netns_mca=(--mca btl "tcp,self" --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)

# ---- the network namespace for the rate-limited regimes ------------------------------
ns="gwbench-$$"
ns_ready=0
ns_reason=""
cleanup() {
  if [[ $ns_ready -ne 0 ]] || ip netns list 2>/dev/null | grep -qw "$ns"; then
    ip netns del "$ns" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_netns() {  # -> ns_ready=1, or ns_reason says why not
  [[ $ns_ready -eq 1 ]] && return 0
  [[ -n "$ns_reason" ]] && return 1
  if [[ $(id -u) -ne 0 ]]; then ns_reason="not root (ip netns and tc need root)"; return 1; fi
  command -v ip >/dev/null || { ns_reason="'ip' (iproute2) not installed"; return 1; }
  command -v tc >/dev/null || { ns_reason="'tc' (iproute2) not installed"; return 1; }
  local err
  if ! err=$(ip netns add "$ns" 2>&1); then ns_reason="ip netns add failed: $err"; return 1; fi
  ns_ready=1
  if ! err=$(ip netns exec "$ns" ip link set lo up 2>&1); then
    ns_reason="ip link set lo up in the namespace failed: $err"; ns_ready=0; cleanup; return 1
  fi
  return 0
}

# rate: 1gbit / 10gbit. The burst must hold one loopback packet (MTU 64 KiB);
# beyond that it lets a message of up to burst bytes pass at full speed after
# an idle moment, so keep it small: about 1 ms worth of the rate.
set_rate() {
  local rate=$1 burst err
  case "$rate" in
    1gbit) burst=128kb ;;
    *) burst=1mb ;;
  esac
  local tc_args=(tc qdisc replace dev lo root tbf rate "$rate" burst "$burst" latency 100ms)
  tc_cmd="${tc_args[*]}"
  if ! err=$(ip netns exec "$ns" "${tc_args[@]}" 2>&1); then
    ns_reason="tc qdisc (tbf rate $rate) failed: $err"
    return 1
  fi
  return 0
}

# ---- machine and revision ----------------------------------------------------------
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "none (no commit yet)")"
if [[ -n "$(git -C "$root" status --porcelain 2>/dev/null | head -1)" ]]; then
  commit="$commit (working tree has uncommitted changes)"
fi
cpu_model="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
mem_total="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
mpi_version="$(mpirun --version 2>/dev/null | head -1)"
started="$(date '+%Y-%m-%d %H:%M:%S %Z')"
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null; }
load_start="$(loadavg)"

summary="$out_abs/SUMMARY.md"
status_lines=()
overall=0

perf_args=(--compressor "$compressors" --warmup "$warmup")
[[ $check -eq 1 ]] && perf_args+=(--check)

quote() {  # a command line, shell-quoted, with paths shown portably
  local a s=""
  for a in "$@"; do
    case "$a" in "$root"/*|"$build_abs"/*|"$out_abs"/*) a="$(show "$a")" ;; esac
    if [[ "$a" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then s+="$a "; else s+="'${a//\'/\'\\\'\'}' "; fi
  done
  echo "${s% }"
}

declare -A cmdlines
run_one() {  # regime np -> runs gw-perf, fills cmdlines / status_lines
  local regime=$1 np=$2 name="$1-np$2"
  local txt="$out_abs/$name.txt" json="$out_abs/$name.json"
  local sz=$sizes it=$iters
  local cmd=()
  case "$regime" in
    shm) cmd=("${mpirun_base[@]}" -np "$np") ;;
    tcp) cmd=("${mpirun_base[@]}" -np "$np" "${tcp_mca[@]}") ;;
    1gbit|10gbit)
      sz=$limited_sizes; it=$limited_iters
      cmd=(ip netns exec "$ns" "${mpirun_base[@]}" -np "$np" "${netns_mca[@]}") ;;
    *) echo "unknown regime '$regime' (shm, tcp, 1gbit, 10gbit)" >&2; overall=1; return ;;
  esac
  cmd+=("$perf" "${perf_args[@]}" --sizes "$sz" --iters "$it" --label "$regime" --json "$json" "${extra[@]}")
  local shown
  shown="$(quote "${cmd[@]}")"
  if [[ $regime == *gbit ]]; then
    shown="ip netns add gwbench; ip netns exec gwbench ip link set lo up; ip netns exec gwbench $tc_cmd; ${shown//$ns/gwbench}"
  fi
  cmdlines[$name]="$shown"
  echo "==> $name: $shown"
  local t0=$SECONDS rc
  timeout --signal=TERM --kill-after=30 "$run_timeout" "${cmd[@]}" > "$txt" 2> "$out_abs/$name.stderr"
  rc=$?
  cat "$txt"
  if [[ -s "$out_abs/$name.stderr" ]]; then
    sed 's/^/  stderr: /' "$out_abs/$name.stderr" | head -20
  else
    rm -f "$out_abs/$name.stderr"
  fi
  local secs=$((SECONDS - t0)) what
  case $rc in
    0) what="ok" ;;
    1) what="FAILED: --check bound exceeded or ranks disagree (exit 1)"; overall=1 ;;
    124|137) what="FAILED: timed out after ${run_timeout}s"; overall=1 ;;
    *) what="FAILED: exit $rc (see $name.stderr)"; overall=1 ;;
  esac
  status_lines+=("| $regime | $np | $what | ${secs}s | [$name.txt]($name.txt), [$name.json]($name.json) |")
}

for regime in $regimes; do
  case "$regime" in
    1gbit|10gbit)
      if ! setup_netns || ! set_rate "$regime"; then
        echo "==> $regime: skipped: $ns_reason"
        for np in $nps; do status_lines+=("| $regime | $np | skipped: $ns_reason | - | - |"); done
        continue
      fi ;;
  esac
  for np in $nps; do run_one "$regime" "$np"; done
done

# ---- SUMMARY.md -----------------------------------------------------------------------
script_cmd="$(quote bench/scripts/run_regimes.sh --build "$(show "$build_abs")" --np "$nps" --sizes "$sizes" \
  --limited-sizes "$limited_sizes" --compressors "$compressors" --iters "$iters" --warmup "$warmup" \
  --limited-iters "$limited_iters" --regimes "$regimes" --out "$(show "$out_abs")")"
[[ $check -eq 0 ]] && script_cmd+=" --no-check"
[[ ${#extra[@]} -gt 0 ]] && script_cmd+=" -- $(quote "${extra[@]}")"
{
  echo "# gw-perf, CPU regimes"
  echo
  echo "- date: $started"
  echo "- commit: $commit"
  echo "- machine: $(uname -srm), $(nproc) cores ($cpu_model), $mem_total RAM"
  echo "- MPI: $mpi_version"
  echo "- load average (1/5/15 min) at start: $load_start, at end: $(loadavg)"
  echo "  (other work on the same cores slows both columns; compare the side-by-side speedup)"
  echo "- command: \`$script_cmd\` (from the repository root; <build> = the build directory, <out> = this folder)"
  echo "- time = median over iterations of the max over ranks (barrier before each call);"
  echo "  baseline = plain MPI_Allreduce(MPI_SUM, float) of the same buffer, interleaved in the same run;"
  echo "  speedup = baseline / time. The JSON rows add min/mean/max of both."
  echo "- rate-limited regimes: all ranks in one network namespace, its loopback limited by"
  echo "  tc tbf (one shared medium: both directions and all ranks share the rate)."
  echo
  echo "| regime | np | status | wall | files |"
  echo "| --- | --- | --- | --- | --- |"
  printf '%s\n' "${status_lines[@]}"
  for regime in $regimes; do
    for np in $nps; do
      name="$regime-np$np"
      [[ -f "$out_abs/$name.txt" ]] || continue
      echo
      echo "## $regime, np=$np"
      echo
      echo "\`${cmdlines[$name]}\`"
      echo
      echo '```'
      cat "$out_abs/$name.txt"
      echo '```'
    done
  done
} > "$summary"

echo "==> summary: $(show "$summary")"
exit $overall
