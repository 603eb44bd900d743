# Two commands do everything on a fresh machine:
#   make run    set up, create the demo database on first run, open the dashboard
#   make test   set up and run the whole test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DB := data/demo.duckdb
PORT ?= 8501

.PHONY: setup run test test-fast bench bench-cli bench-load demo lint clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

$(DEMO_DB): | $(STAMP)
	$(VENV)/bin/b2bmetrics demo --db $(DEMO_DB)

demo: $(STAMP)
	$(VENV)/bin/b2bmetrics demo --db $(DEMO_DB)

run: $(STAMP) $(DEMO_DB)
	$(VENV)/bin/streamlit run serve.py --server.port $(PORT)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(PY) -m bench.run

# whole-process figures (issue 11): `kpis` and `ingest` as a script pays for them, against bare DuckDB
# processes, with the import time per command (~5 min at 200,000 accounts)
bench-cli: $(STAMP)
	$(PY) -m bench.whole_process

# concurrent users with a load in the middle (~1.5 min), then the overview's first paint in Chromium
bench-load: $(STAMP)
	$(PY) -m bench.load_test
	$(PY) -m bench.first_paint

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
