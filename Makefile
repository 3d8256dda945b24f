# Two commands on a fresh machine; each does its own set-up (scripts/setup.sh).
#   make demo   the main job: MPC on the embedded world model, executed in the toy world
#               (options: make demo ARGS="--task reach --seed 3"; see examples/mpc_demo.py --help)
#   make test   lint (ruff) + the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench data retrain contact-finetune pusht-data pusht-train

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

# pusht-64 (docs/pusht.md; needs the pusht extra, which the test extra includes): the PushT
# dataset (1000 episodes, about 6 minutes), then the VAE (1600 steps on 9-frame clips, one
# thread) and the DiT (bf16 autocast, 9500 steps). Every phase resumes from runs/pusht64; the
# run is in progress across sessions, and --install is left to the run that finishes it.
pusht-data: setup
	test -f runs/data/pusht_train.npz || $(PY) -m dreamgym.pusht.episodes --out runs/data/pusht_train.npz --episodes 1000 --length 96

# push-64 fine-tuned with the contact recipe (docs/fidelity.md): half the clips start from the
# model's own handoff frame (--dit-self-cond 0.5); the shipped weights are the start
contact-finetune: data
	$(PY) -m engine.training --data runs/data/push_train.npz --spec push-64 --out runs/push64_contact \
		--init-from push-64 --vae-steps 0 --dit-steps 1500 --dit-lr 2e-4 --dit-warmup 50 --dit-self-cond 0.5 \
		--precision bf16 --seed 0 --threads 2

pusht-train: pusht-data
	OMP_NUM_THREADS=1 $(PY) -m engine.training --data runs/data/pusht_train.npz --spec pusht-64 --out runs/pusht64 \
		--vae-steps 1600 --seed 0 --threads 1 --stop-after vae
	$(PY) -m engine.training --data runs/data/pusht_train.npz --spec pusht-64 --out runs/pusht64 \
		--vae-steps 1600 --dit-steps 6000 --precision bf16 --seed 0 --threads 2
