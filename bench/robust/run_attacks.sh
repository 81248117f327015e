#!/usr/bin/env bash
# Fashion-MNIST under attack: train_fmnist.py under mpirun for every robust rule
# x attack (and no attack), then attack_table.py writes RESULTS.md (final test
# accuracy per rule and attack, date, commit, machine, command) and a plot.
# The attack harness (config attack=) is for tests and benchmarks only.
#
# Usage: bench/robust/run_attacks.sh [options] [-- extra train_fmnist.py options]
#   --build DIR          build directory holding lib/libgradwire.so (default: build)
#   --np N               ranks (default 8)
#   --attackers "6|7"    attacking ranks (default: the last two)
#   --rules "R1;R2"      robust= rules (default "mean;median;trimmed:b=2;krum:f=2;geomed;cc:tau=1;safeguard")
#   --attacks "A1;A2"    attacks, "none" = no attack (default "none;signflip;gaussian;alie;ipm;labelflip;mimic")
#   --spec S             compressor spec of every layer (default none)
#   --jobs J             training runs at once (default 1; each takes N cores)
#   --python PY          interpreter with torch (default /usr/bin/python3)
#   --out DIR            output folder (default bench/results/robust-<date>); runs already
#                        there (runs/*.json) are kept, so an interrupted sweep resumes
#   --timeout S          limit per training run (default 900)
set -uo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/../.." && pwd)"
# shellcheck source=../scripts/run_meta.sh
source "$root/bench/scripts/run_meta.sh"

build=build np=8 attackers="" py=/usr/bin/python3 out="" run_timeout=900 jobs=1 spec=none
rules="mean;median;trimmed:b=2;krum:f=2;geomed;cc:tau=1;safeguard"
attacks="none;signflip;gaussian;alie;ipm;labelflip;mimic"
extra=()
die() { echo "run_attacks.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    --attackers) attackers="$2"; shift 2 ;;
    --rules) rules="$2"; shift 2 ;;
    --attacks) attacks="$2"; shift 2 ;;
    --spec) spec="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --python) py="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --timeout) run_timeout="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
done
[[ -n "$attackers" ]] || attackers="$((np - 2))|$((np - 1))"
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
lib="$(abspath "$build")/lib/libgradwire.so"
[[ -e "$lib" ]] || die "no $lib (build first)"
[[ -n "$out" ]] || out="bench/results/robust-$(date +%Y%m%d)"
out_abs="$(abspath "$out")"
mkdir -p "$out_abs/runs" || die "cannot create $out_abs/runs"

sweep_env "$lib"

{
  run_meta "$root" "$py"
  echo "command=bench/robust/run_attacks.sh --np $np --attackers '$attackers' --rules '$rules' --attacks '$attacks' --spec '$spec' --jobs $jobs${extra[*]:+ -- ${extra[*]}}"
} > "$out_abs/meta.txt"

# One line per run: "<json> <log> <config> <label>", then up to --jobs at once.
list="$out_abs/runs/list.txt"
: > "$list"
IFS=';' read -r -a rule_list <<< "$rules"
IFS=';' read -r -a attack_list <<< "$attacks"
for rule in "${rule_list[@]}"; do
  for attack in "${attack_list[@]}"; do
    tag="$(echo "${rule}__${attack}" | tr ':=,|' '-_._')"
    cfg="timeout=300;robust=$rule"
    [[ "$attack" == none ]] || cfg="$cfg;attack=$attack$([[ "$attack" == *:* ]] && echo , || echo :)ranks=$attackers"
    [[ -s "$out_abs/runs/$tag.json" ]] && continue
    printf '%s\t%s\t%s\t%s\n' "$out_abs/runs/$tag.json" "$out_abs/runs/$tag.log" "$cfg" "$rule|$attack" >> "$list"
  done
done
echo "run_attacks.sh: $(wc -l < "$list") runs to do, $jobs at once, np $np, attackers $attackers"
run_one() {
  IFS=$'\t' read -r json log cfg label <<< "$1"
  timeout "$run_timeout" mpirun --oversubscribe --bind-to none -np "$np" "$py" "$script_dir/../convergence/train_fmnist.py" \
    --spec "$spec" --config "$cfg" --label "$label" --out "$json" "${extra[@]}" < /dev/null > "$log" 2>&1 ||
    echo "run_attacks.sh: run '$label' failed (rc $?): see $log" >&2
  echo "done: $label $(tail -n 1 "$log" | tr -s ' ')"
}
while IFS= read -r line; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n; done
  run_one "$line" &
done < "$list"
wait
"$py" "$script_dir/attack_table.py" "$out_abs" || die "attack_table.py failed"
