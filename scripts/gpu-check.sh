#!/usr/bin/env bash
# GPU check of ptm's CUDA target on any machine with an NVIDIA GPU, nvcc and Python 3 with PyTorch (no Node):
#   scripts/gpu-check.sh ARTIFACTS_DIR RESULTS_DIR    (ARTIFACTS_DIR from `node scripts/prepare-gpu-check.mjs DIR`)
# Builds, checks every prepared model against the CPU reference, times kernels vs PyTorch; the table prints last.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 ARTIFACTS_DIR RESULTS_DIR" >&2
  exit 2
fi
artifacts=$1
results=$2
here=$(cd "$(dirname "$0")" && pwd)

fail() {
  echo "gpu-check FAILED: $*" >&2
  exit 2
}
[ -f "$artifacts/gpu-check.json" ] || fail "$artifacts/gpu-check.json is missing: run 'node scripts/prepare-gpu-check.mjs $artifacts' (after npm run build) on a machine with Node"
command -v python3 >/dev/null || fail "python3 is not on PATH"
command -v nvcc >/dev/null || fail "nvcc is not on PATH: install the CUDA toolkit or add its bin/ to PATH"
command -v nvidia-smi >/dev/null || fail "nvidia-smi is not on PATH: no NVIDIA driver on this machine"
nvidia-smi -L >/dev/null 2>&1 || fail "nvidia-smi finds no GPU: $(nvidia-smi -L 2>&1 | head -1)"
python3 -c 'import torch, numpy' 2>/dev/null || fail "python3 cannot import torch and numpy: use the Python that has PyTorch"
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' || fail "PyTorch sees no CUDA device (torch.cuda.is_available() is False)"

mkdir -p "$results" || fail "cannot create $results"
{
  nvidia-smi
  nvcc --version
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} >"$results/environment.txt" 2>&1

PYTHONUNBUFFERED=1 python3 "$here/gpu-check.py" run "$artifacts" "$results" 2>&1 | tee "$results/gpu-check.log"
exit "${PIPESTATUS[0]}"
