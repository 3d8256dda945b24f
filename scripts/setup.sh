#!/usr/bin/env bash
# Create (or reuse) the project virtual environment and install the package with its test
# extras. Idempotent: a second run only re-installs when pyproject.toml changed.
#
# torch: if the environment already has one (e.g. your own CUDA build), it is kept. If not,
# a machine with an NVIDIA driver gets the default (CUDA) wheel, and a CPU-only machine gets
# $TORCH_CPU_SPEC (default torch==2.13.0, the CPU build this project is tested with; set
# PIP_INDEX_URL=https://download.pytorch.org/whl/cpu on machines whose pip would otherwise
# pick a CUDA wheel for that version).
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
    "$PY" -m pip install -q "${TORCH_CPU_SPEC:-torch==2.13.0}"
  fi
fi
# torch is now present, so the package's "torch>=2.4" requirement installs nothing more.
"$PY" -m pip install -q -e ".[test]"
touch "$STAMP"
