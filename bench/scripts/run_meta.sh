# Sourced by the benchmark sweeps (run_convergence.sh, run_attacks.sh,
# run_gossip.sh): the lines of a results folder's meta.txt that say when, at
# which commit and where a run was measured, and the environment their runs share.
#
#   run_meta ROOT PYTHON    prints date=, commit=, machine=, mpi=, torch=
#   sweep_env LIB           exports what every run of a sweep needs: the library
#                           the Python package loads, one OpenMP thread per rank
#                           (ranks share the cores), and mpirun as root, oversubscribed
#
# commit is GW_COMMIT when set (a copy of the tree without .git, as on a lent
# machine), else the checkout's HEAD, marked when the tree has uncommitted changes.
run_meta() {
  local root="$1" py="$2" commit
  commit="${GW_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)}"
  [[ -z "${GW_COMMIT:-}" && -n "$(git -C "$root" status --porcelain 2>/dev/null | head -1)" ]] &&
    commit="$commit (working tree has uncommitted changes)"
  echo "date=$(date '+%Y-%m-%d %H:%M:%S %Z')"
  echo "commit=$commit"
  echo "machine=$(uname -srm), $(nproc --all) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "mpi=$(mpirun --version 2>/dev/null | head -1)"
  echo "torch=$("$py" -c 'import torch; print(torch.__version__)')"
}

sweep_env() {
  export GRADWIRE_LIBRARY="$1" OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
}
