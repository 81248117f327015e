#!/usr/bin/env bash
# tests/python/run_test.sh PYTHON NP SCRIPT: runs SCRIPT under tests/mpirun.sh NP with
# PYTHON; exits 77 (skipped) when PYTHON cannot import torch.
set -euo pipefail
py=$1 np=$2 script=$3
if ! "$py" -c "import torch" >/dev/null 2>&1; then
  echo "SKIP: torch is not importable by $py (install python3-torch: scripts/install-deps.sh)"
  exit 77
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../mpirun.sh" "$np" "$py" "$script"
