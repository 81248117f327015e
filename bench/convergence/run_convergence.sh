#!/usr/bin/env bash
# Fashion-MNIST convergence sweep: train_fmnist.py under mpirun for each compressor
# spec, in shared memory and in the 1 Gbit/s rate-limited loopback regime, then
# plot_convergence.py writes RESULTS.md (table with date, commit, machine, commands)
# and PNG plots into the output folder.
#
# Usage: bench/convergence/run_convergence.sh [options] [-- extra train_fmnist.py options]
#   --build DIR        build directory holding lib/libgradwire.so (default: build)
#   --np N             ranks (default 4)
#   --specs "S1;S2"    ';'-separated (default "none;fp16;maxmin:bits=8;maxmin:bits=4;maxmin:bits=2";
#                      "gloo" = plain DDP without the hook, as a reference)
#   --regimes "shm 1gbit"   shm = mpirun defaults; 1gbit/10gbit = one network namespace
#                      whose loopback is rate-limited (tc tbf), MPI over TCP on lo
#   --python PY        interpreter with torch (default /usr/bin/python3, Debian's python3-torch)
#   --out DIR          output folder (default bench/results/convergence-<date>)
#   --timeout S        limit per training run (default 900)
# Needs root for the rate-limited regime (ip netns, tc); without it that regime is skipped.
set -uo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/../.." && pwd)"
# shellcheck source=netns_regime.sh
source "$script_dir/netns_regime.sh"
# shellcheck source=../scripts/run_meta.sh
source "$root/bench/scripts/run_meta.sh"

build=build np=4 regimes="shm 1gbit" py=/usr/bin/python3 out="" run_timeout=900
specs="none;fp16;maxmin:bits=8;maxmin:bits=4;maxmin:bits=2"
extra=()
die() { echo "run_convergence.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    --specs) specs="$2"; shift 2 ;;
    --regimes) regimes="$2"; shift 2 ;;
    --python) py="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --timeout) run_timeout="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
done
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
build_abs="$(abspath "$build")"
[[ -n "$out" ]] || out="bench/results/convergence-$(date +%Y%m%d)"
out_abs="$(abspath "$out")"
lib="$build_abs/lib/libgradwire.so"
[[ -e "$lib" ]] || die "no $lib (build first: cmake -S . -B $build && cmake --build $build --target gradwire)"
"$py" -c "import torch, matplotlib" 2>/dev/null || die "$py cannot import torch and matplotlib (scripts/install-deps.sh)"
mkdir -p "$out_abs" || die "cannot create $out_abs"

sweep_env "$lib"
mpirun_base=(mpirun --oversubscribe --bind-to none -np "$np")
train="$script_dir/train_fmnist.py"

ns="gwconv-$$"
ns_ready=0
trap '[[ $ns_ready -eq 1 ]] && netns_cleanup "$ns"' EXIT
trap 'exit 130' INT TERM

{
  run_meta "$root" "$py"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command=bench/convergence/run_convergence.sh --build <build> --np $np --specs '$specs' --regimes '$regimes' --out <out>${extra[*]:+ -- ${extra[*]}}"
} > "$out_abs/meta.txt"
: > "$out_abs/commands.tsv"

overall=0
IFS=';' read -r -a spec_list <<< "$specs"
for regime in $regimes; do
  prefix=()
  env_shown="GRADWIRE_LIBRARY=<build>/lib/libgradwire.so OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
  shown_prefix="$env_shown "
  case "$regime" in
    shm) ;;
    1gbit|10gbit)
      if [[ $ns_ready -eq 0 ]]; then
        if netns_setup "$ns"; then ns_ready=1; else echo "==> $regime: skipped: $netns_reason"; echo "$regime	-	skipped: $netns_reason" >> "$out_abs/commands.tsv"; continue; fi
      fi
      if ! netns_rate "$ns" "$regime"; then echo "==> $regime: skipped: $netns_reason"; echo "$regime	-	skipped: $netns_reason" >> "$out_abs/commands.tsv"; continue; fi
      prefix=(ip netns exec "$ns")
      shown_prefix="ip netns add gwconv; ip netns exec gwconv ip link set lo up; ip netns exec gwconv $netns_tc_cmd; $env_shown ip netns exec gwconv " ;;
    *) die "unknown regime '$regime' (shm, 1gbit, 10gbit)" ;;
  esac
  for spec in "${spec_list[@]}"; do
    slug="${regime}-$(echo "$spec" | tr ':=,' '_-_')"
    mca=()
    [[ $regime == *gbit ]] && mca=("${netns_mca[@]}")
    cmd=("${prefix[@]}" "${mpirun_base[@]}" "${mca[@]}" "$py" "$train" --spec "$spec" --label "$regime"
         --out "$out_abs/$slug.json" "${extra[@]}")
    shown="${shown_prefix}mpirun --oversubscribe --bind-to none -np $np ${mca[*]}${mca[*]:+ }$py bench/convergence/train_fmnist.py --spec '$spec' --label $regime --out <out>/$slug.json ${extra[*]}"
    echo "==> $regime $spec"
    t0=$SECONDS
    timeout --signal=TERM --kill-after=30 "$run_timeout" "${cmd[@]}" > "$out_abs/$slug.log" 2>&1
    rc=$?
    tail -3 "$out_abs/$slug.log"
    status="ok"
    [[ $rc -ne 0 ]] && { status="FAILED (exit $rc, see $slug.log)"; overall=1; }
    echo "$regime	$spec	$status	$((SECONDS - t0))	$shown" >> "$out_abs/commands.tsv"
  done
done
"$py" "$script_dir/plot_convergence.py" "$out_abs" || overall=1
echo "==> results: $out/RESULTS.md"
exit $overall
