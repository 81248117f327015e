#!/usr/bin/env bash
# SwarmSGD benchmarks (issue 19's targets): examples/swarm_fmnist.py under mpirun,
# then gossip_table.py writes RESULTS.md (tables, date, commit, machine, commands)
# and a plot of test accuracy against time into the output folder.
#
#   convergence  synchronous SGD (every step's gradients averaged by gradwire, compressor
#                none) against SwarmSGD at the same steps per rank, for each --np: test
#                accuracy of the average model
#   straggler    at --straggler-np ranks, MPI over TCP only (--mca btl tcp,self, as across
#                hosts): swarm and sync, each without and with the last rank made
#                --factor times slower; fast ranks' steps/s, time to sync's accuracy
#   bytes        swarm with codec=lattice:bits=8 at the first --np, against the fp32
#                convergence run: gossip bytes per interaction from the statistics
#
# Usage: bench/gossip/run_gossip.sh --out DIR [options] [-- extra swarm_fmnist.py options]
#   --out DIR            output folder (runs/ holds each run's JSON and log; runs already
#                        there are kept, so an interrupted sweep resumes)
#   --build DIR          build directory holding lib/libgradwire.so (default: build)
#   --np "4 8"           ranks of the convergence runs (default "4 8")
#   --straggler-np N     ranks of the straggler runs (default 4)
#   --factor F           the straggler's slowdown (default 5)
#   --epochs E           epochs of every run (default 1)
#   --local-steps H      swarm's local steps between interactions (default 2)
#   --snapshot-every S   seconds between the snapshots of the accuracy curve (default 1)
#   --parts "convergence straggler bytes"   what to run (default all three)
#   --python PY          interpreter with torch (default /usr/bin/python3)
#   --timeout S          limit per run (default 900)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../scripts/run_meta.sh
source "$root/bench/scripts/run_meta.sh"

out="" build=build nps="4 8" snp=4 factor=5 epochs=1 H=2 snap=1 py=/usr/bin/python3 limit=900
parts="convergence straggler bytes"
extra=()
die() { echo "run_gossip.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2" ;; --build) build="$2" ;; --np) nps="$2" ;; --straggler-np) snp="$2" ;;
    --factor) factor="$2" ;; --epochs) epochs="$2" ;; --local-steps) H="$2" ;; --snapshot-every) snap="$2" ;;
    --parts) parts="$2" ;; --python) py="$2" ;; --timeout) limit="$2" ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
  shift 2
done
[[ -n "$out" ]] || die "--out DIR is required"
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
lib="$(abspath "$build")/lib/libgradwire.so"
[[ -e "$lib" ]] || die "no $lib (build first: cmake --build $build --target gradwire)"
out="$(abspath "$out")"
mkdir -p "$out/runs" || die "cannot create $out/runs"

sweep_env "$lib"
{
  run_meta "$root" "$py"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command=bench/gossip/run_gossip.sh --out <out> --np '$nps' --straggler-np $snp --factor $factor --epochs $epochs --local-steps $H --snapshot-every $snap --parts '$parts'${extra[*]:+ -- ${extra[*]}}"
} > "$out/meta.txt"

# run TAG NP MPI_ARGS -- swarm_fmnist.py options: one run into runs/TAG.json (skipped when there)
run() {
  local tag=$1 np=$2 mpiargs=$3
  shift 4
  [[ -s "$out/runs/$tag.json" ]] && { echo "kept: $tag"; return; }
  local cmd=(mpirun --oversubscribe --bind-to none -np "$np" $mpiargs "$py" "$root/examples/swarm_fmnist.py"
             --epochs "$epochs" --local-steps "$H" --snapshot-every "$snap" --label "$tag" "$@" "${extra[@]}")
  printf '%s\t%s\n' "$tag" "${cmd[*]}" | sed "s#$root/##g; s#$py#python3#" >> "$out/commands.tsv"
  timeout "$limit" "${cmd[@]}" --out "$out/runs/$tag.json" < /dev/null > "$out/runs/$tag.log" 2>&1 ||
    echo "run_gossip.sh: $tag failed (rc $?): see runs/$tag.log" >&2
  echo "done: $tag: $(tail -n 1 "$out/runs/$tag.log")"
}
tcp="--mca btl tcp,self"
slow="$((snp - 1)):$factor"
for part in $parts; do
  case "$part" in
    convergence) for np in $nps; do
        run "sync-np$np" "$np" "" -- --mode sync
        run "swarm-np$np" "$np" "" -- --mode swarm
      done ;;
    straggler)
      run "tcp-sync-np$snp" "$snp" "$tcp" -- --mode sync
      run "tcp-sync-straggler-np$snp" "$snp" "$tcp" -- --mode sync --straggler "$slow"
      run "tcp-swarm-np$snp" "$snp" "$tcp" -- --mode swarm
      run "tcp-swarm-straggler-np$snp" "$snp" "$tcp" -- --mode swarm --straggler "$slow" ;;
    bytes) np="${nps%% *}"
      run "swarm-lattice8-np$np" "$np" "" -- --mode swarm --gossip-config "timeout=30;codec=lattice:bits=8" ;;
    *) die "unknown part '$part' (convergence, straggler, bytes)" ;;
  esac
done
"$py" "$here/gossip_table.py" "$out" || die "gossip_table.py failed"
