# Two commands on a fresh machine; each does its own set-up (scripts/setup.sh).
#   make demo   the main job: MPC on the embedded world model, executed in the toy world
#               (options: make demo ARGS="--task reach --seed 3"; see examples/mpc_demo.py --help)
#   make test   lint (ruff) + the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench data retrain

setup:
	@VENV=$(VENV) bash scripts/setup.sh

demo: setup
	$(PY) examples/mpc_demo.py --out out/demo $(ARGS)

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: setup
	$(PY) benchmarks/engine_bench.py
	$(PY) benchmarks/fidelity.py

# Retrain the embedded push-64 model exactly as the shipped one was trained and install it into
# the package (docs/toy_world.md; about 3.5 hours on this 2-core machine). The recipe below is
# the shipped run: the VAE for 1200 steps on 5-frame clips (one thread), resumed on 9-frame
# clips (start + one chunk, what inference sees) to step 1600; the DiT for 2000 steps, resumed
# to 3500 (a warm restart of the cosine schedule), to 4000 inside an 8000-step schedule, to
# 6500 inside a 6500-step one, and finally to 9500 inside a 9500-step one, which installs it.
data: setup
	$(PY) -m dreamgym.toyworld.episodes --out runs/data/push_train.npz --episodes 1200 --seed 0

retrain: data
	OMP_NUM_THREADS=1 $(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 --out runs/push64 \
		--vae-steps 1200 --vae-clip-frames 5 --seed 0 --threads 1 --stop-after vae
	$(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 --out runs/push64 \
		--vae-steps 1600 --dit-steps 2000 --seed 0 --threads 2
	$(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 --out runs/push64 \
		--vae-steps 1600 --dit-steps 3500 --seed 0 --threads 2
	$(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 --out runs/push64 \
		--vae-steps 1600 --dit-steps 8000 --dit-stop-at 4000 --seed 0 --threads 2
	$(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 --out runs/push64 \
		--vae-steps 1600 --dit-steps 6500 --seed 0 --threads 2
	$(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 --out runs/push64 \
		--vae-steps 1600 --dit-steps 9500 --seed 0 --threads 2 --install
