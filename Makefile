# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: demo test bench docs lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[test,bench]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed-test
	$(PY) scripts/demo.py notebooks/01_tutorial.ipynb

test: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest tests
	$(PY) -m pytest $(NBVAL) notebooks/

bench: $(VENV)/.installed-test
	$(PY) bench/run.py
	$(PY) bench/readme.py

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
	rm -rf $(VENV) .pytest_cache .hypothesis
