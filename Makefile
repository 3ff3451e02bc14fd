# Two commands do all the set-up: `make demo` (the main job) and `make test` (the suite).
# Each creates/updates .venv and installs the project with its extras first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint clean system-deps

# envpool's ProcGen needs the system Qt 5 runtime (Debian: libqt5gui5).
system-deps:
	@if command -v dpkg >/dev/null 2>&1 && ! dpkg -s libqt5gui5 >/dev/null 2>&1; then \
		echo "installing libqt5gui5 (needed by envpool's ProcGen)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends libqt5gui5 >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(MAKE) system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[recipes,dev]"
	touch $(STAMP)

install: $(STAMP)

# The main job, until the sweep layer exists: a short CARBS run on a synthetic cost-aware problem,
# the scaling report of its trials, the Chinchilla refit on Epoch AI's data (when ../shared is
# beside the checkout), and one tiny run of each recipe. Outputs land in demo_out/.
EPOCH_CSV := ../shared/data/chinchilla_figure4_epoch.csv
DEMO_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

demo: $(STAMP)
	$(DEMO_ENV) $(PY) -m carbs.demo --out demo_out/carbs
	$(DEMO_ENV) $(PY) -m scaling report demo_out/carbs/trials.csv --out demo_out/carbs_scaling
	@if [ -f $(EPOCH_CSV) ]; then \
		$(DEMO_ENV) $(PY) -m scaling report $(EPOCH_CSV) --out demo_out/chinchilla_scaling; \
	else echo "($(EPOCH_CSV) not found: skipping the Chinchilla refit)"; fi
	$(DEMO_ENV) $(PY) -m recipes.lm model=tiny data=kjv train.tokens=3e5 logger=console \
		hydra.run.dir=demo_out/lm
	$(DEMO_ENV) $(PY) -m recipes.ppo env=coinrun total_timesteps=4096 num_envs=16 num_steps=64 \
		eval_episodes=8 eval_num_envs=8 hydra.run.dir=demo_out/ppo
	@echo "demo done: plots, tables and states are in demo_out/"

test: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q tests

lint: $(STAMP)
	$(PY) -m ruff check carbs scaling recipes benchmarks tests

clean:
	rm -rf $(VENV) demo_out .pytest_cache
