# Two commands do all the set-up: `make demo` (the main job) and `make test` (the suite).
# Each creates/updates .venv and installs the project with its extras first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo chinchilla notebooks test lint clean system-deps bench-hebo-env

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

# The main job: a CARBS sweep of the LM recipe on the offline KJV corpus (conf/sweep/lm_tiny.yaml,
# two trials in flight on the joblib launcher; the console shows one line per finished trial,
# each trial's own log is in its job folder), then the scaling report of that sweep and the
# recommended configuration for 10x its largest run (with the next sweep's YAML). Outputs
# land in demo_out/ (the sweep directory demo_out/lm_tiny holds the journal, the optimiser state,
# the plots and one folder per trial). Re-running resumes the same sweep (`make clean` starts
# over). The Chinchilla refit on Epoch AI's data (shipped in scaling/data/): `make chinchilla`.
DEMO_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
DEMO_SWEEP := demo_out/lm_tiny
DEMO_TRIALS ?= 16
EPOCH_CSV = $$($(PY) -c 'import scaling; print(scaling.chinchilla_epoch_path())')

demo: $(STAMP)
	$(DEMO_ENV) $(PY) -m recipes.lm --multirun +sweep=lm_tiny hydra.sweep.dir=$(DEMO_SWEEP) \
		hydra/launcher=joblib hydra.sweeper.n_jobs=2 \
		hydra.sweeper.max_trials=$(DEMO_TRIALS)
	$(DEMO_ENV) $(PY) -m scaling report $(DEMO_SWEEP) --out demo_out/lm_tiny_report
	$(DEMO_ENV) $(PY) -m scaling recommend $(DEMO_SWEEP) --budget 10x --out demo_out/lm_tiny_recommend \
		--next-sweep demo_out/lm_tiny_recommend/lm_tiny_next.yaml
	@echo "demo done: sweep (journal.sqlite, pareto.png, params_vs_cost.png) in $(DEMO_SWEEP)/;"
	@echo "           scaling report (summary.md, summary.json, plots) in demo_out/lm_tiny_report/;"
	@echo "           recommendation for 10x its largest run in demo_out/lm_tiny_recommend/"

chinchilla: $(STAMP)
	$(DEMO_ENV) $(PY) -m scaling report "$(EPOCH_CSV)" --out demo_out/chinchilla_scaling

# Every figure of notebooks/ (PNG, plus the numbers behind it as JSON) into notebooks/figures/,
# from the tables shipped in notebooks/data/ (see its README for the commands that made them).
notebooks: $(STAMP)
	$(DEMO_ENV) $(PY) notebooks/run.py

# Two test processes (pytest-xdist), one torch/BLAS thread each: the suite's end-to-end tests
# are single-threaded subprocess and training runs, so two at a time fill two cores.
test: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadgroup --durations=10 tests

# The tuner benchmark's HEBO arm runs in its own environment (HEBO 0.3.6 pins numpy<1.25):
# .venv-hebo from benchmarks/tuners/hebo_requirements.txt (about 2 minutes, 1.8 GB; torch is the largest
# part). `python -m benchmarks.tuners` finds it there and skips only the hebo arm without it.
HEBO_VENV := .venv-hebo
bench-hebo-env: $(HEBO_VENV)/.installed

$(HEBO_VENV)/.installed: benchmarks/tuners/hebo_requirements.txt
	test -x $(HEBO_VENV)/bin/python || $(PYTHON) -m venv $(HEBO_VENV)
	$(HEBO_VENV)/bin/python -m pip install -q --upgrade pip
	$(HEBO_VENV)/bin/python -m pip install -q -r benchmarks/tuners/hebo_requirements.txt
	touch $@

lint: $(STAMP)
	$(PY) -m ruff check tays carbs scaling recipes benchmarks hydra_plugins tests

clean:
	rm -rf $(VENV) demo_out .pytest_cache
