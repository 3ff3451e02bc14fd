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

demo: $(STAMP)
	$(PY) -m carbs.demo --out demo_out

test: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q tests

lint: $(STAMP)
	$(PY) -m ruff check carbs scaling recipes benchmarks tests

clean:
	rm -rf $(VENV) demo_out .pytest_cache
