# Two commands on a fresh machine; each does its own set-up (scripts/setup.sh).
#   make demo   the main job: MPC on the embedded world model, executed in the toy world
#   make test   lint (ruff) + the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench data retrain

setup:
	@VENV=$(VENV) bash scripts/setup.sh

demo: setup
	$(PY) examples/mpc_demo.py --out out/demo

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: setup
	$(PY) benchmarks/engine_bench.py
	$(PY) benchmarks/fidelity.py

# Retrain the embedded push-64 model from scratch (about 70 minutes on 2 CPU cores) and
# install it into the package. Same machine and thread count -> same weights.
data: setup
	$(PY) -m dreamgym.toy_data --out runs/data/push_train.npz --episodes 1200 --seed 0

retrain: data
	OMP_NUM_THREADS=1 $(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 \
		--out runs/push64 --vae-steps 1200 --dit-steps 2500 --seed 0 --threads 1 --install
