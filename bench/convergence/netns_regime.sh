# Sourced by run_convergence.sh: the rate-limited regime of BENCHMARKS.md, as
# bench/scripts/run_regimes.sh does it: all ranks inside one network namespace
# whose loopback is limited by tc tbf (one shared medium: both directions and all
# ranks share the rate); MPI (btl and oob) over TCP on lo.
#   netns_setup NAME      -> 0, or 1 with netns_reason set
#   netns_rate NAME RATE  -> tc qdisc on the namespace's lo (1gbit: 128kb burst, else 1mb)
#   netns_cleanup NAME
netns_reason=""
netns_tc_cmd=""
netns_setup() {
  local ns=$1 err
  if [[ $(id -u) -ne 0 ]]; then netns_reason="not root (ip netns and tc need root)"; return 1; fi
  command -v ip >/dev/null || { netns_reason="'ip' (iproute2) not installed"; return 1; }
  command -v tc >/dev/null || { netns_reason="'tc' (iproute2) not installed"; return 1; }
  if ! err=$(ip netns add "$ns" 2>&1); then netns_reason="ip netns add failed: $err"; return 1; fi
  if ! err=$(ip netns exec "$ns" ip link set lo up 2>&1); then
    netns_reason="ip link set lo up in the namespace failed: $err"; ip netns del "$ns" 2>/dev/null; return 1
  fi
}
netns_rate() {
  local ns=$1 rate=$2 burst=1mb err
  [[ $rate == 1gbit ]] && burst=128kb
  local args=(tc qdisc replace dev lo root tbf rate "$rate" burst "$burst" latency 100ms)
  netns_tc_cmd="${args[*]}"
  if ! err=$(ip netns exec "$ns" "${args[@]}" 2>&1); then netns_reason="tc (tbf rate $rate) failed: $err"; return 1; fi
}
netns_cleanup() { ip netns del "$1" 2>/dev/null || true; }
netns_mca=(--mca btl "tcp,self" --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
