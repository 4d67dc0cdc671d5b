# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: demo test test-all wheel bench docs lint clean

# The pip that venv bundles installs everything here: upgrading it would fetch it from the
# network on every fresh venv.
$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

# The demo needs the package, a kernel and nbclient: not the test and bench toolchain.
# --no-compile: Python compiles the modules the demo imports when it imports them, rather
# than pip compiling every module of every package (a third of the install's CPU time).
$(VENV)/.installed-demo: pyproject.toml | $(PY)
	$(PY) -m pip install -q --no-compile -e ".[demo]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[test,bench,check]"
	touch $@ $(VENV)/.installed $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(PY) scripts/demo.py notebooks/01_tutorial.ipynb

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest tests
	$(PY) -m pytest $(NBVAL) notebooks/
	$(PY) scripts/check_wheel.py

# The wheel and sdist (build/dist/), their metadata checked, the wheel loaded in a kernel.
wheel: $(VENV)/.installed-test
	$(PY) scripts/check_wheel.py

# pytest on Python 3.11, 3.12 and 3.13 (noxfile.py); `make test` stays on the default one.
test-all: $(VENV)/.installed-test
	$(PY) -m nox

bench: $(VENV)/.installed-test
	$(PY) bench/run.py

$(VENV)/.installed-docs: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[docs]"
	touch $@ $(VENV)/.installed

# Not part of `make test`: needs Debian's chromium (apt-get install -y chromium).
docs: $(VENV)/.installed-docs
	$(PY) scripts/screenshot.py

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .nox build .pytest_cache .hypothesis
