#!/usr/bin/env bash
# Create (or reuse) the project virtual environment and install the package with its test
# extras. Idempotent: a second run only re-installs when pyproject.toml changed.
#
# torch: if the environment already has one (e.g. your own CUDA build), it is kept. If not,
# a machine with an NVIDIA driver gets the default (CUDA) wheel, and a CPU-only machine gets
# $TORCH_CPU_SPEC (default torch==2.13.0, the CPU build this project is tested with) from
# PyTorch's CPU index ($TORCH_CPU_INDEX) when it is reachable, else from the default index;
# it prints which.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
STAMP="$VENV/.dreamgym-installed"

if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
fi
if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ]; then
  exit 0
fi
if ! "$PY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install -q torch
  else
    # CPU only: PyTorch's own CPU index when it answers (plain PyPI's torch==2.13.0 is the CUDA
    # build with several GB of nvidia-* wheels); otherwise the default index, which on machines
    # with a provided CPU wheel (as here) serves that wheel.
    spec="${TORCH_CPU_SPEC:-torch==2.13.0}"
    index="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
    if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=5)" "$index" 2>/dev/null; then
      echo "setup: no GPU: installing $spec from PyTorch's CPU index ($index)"
      "$PY" -m pip install -q "$spec" --index-url "$index"
    else
      echo "setup: no GPU, and PyTorch's CPU index ($index) is unreachable: installing $spec from the default index"
      "$PY" -m pip install -q "$spec"
    fi
    "$PY" -W ignore -c "import torch; print('setup: installed torch', torch.__version__)"
  fi
fi
# torch is now present, so the package's "torch>=2.4" requirement installs nothing more.
"$PY" -m pip install -q -e ".[test]"
touch "$STAMP"
