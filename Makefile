# Every target creates .venv on first use and installs what it needs (torch first:
# the CPU wheel of torch 2.13.0, so pip never pulls a multi-GB CUDA build).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test docs bench bench-repeats bench-scale bench-cluster bench-fed clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,fl,tune,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/otmix demo

test: $(STAMP)
	$(PY) -m pytest -q

# The documentation site: API reference from the docstrings, the gallery runs examples/ (warnings are errors).
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -j 1 -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(PY) benchmarks/fgw_vs_pot.py --json benchmarks/fgw_vs_pot.json

bench-repeats: $(STAMP)
	$(PY) benchmarks/fgw_vs_pot.py --sizes 2048 --structures euclidean --repeats 5 \
		--json benchmarks/fgw_vs_pot_repeats.json

bench-scale: $(STAMP)
	$(PY) benchmarks/cluster_scale.py --rows 100000 1000000 --epochs 1 --json benchmarks/cluster_scale.json
	$(PY) benchmarks/cluster_scale.py --rows 100000 1000000 --epochs 1 --links 0.01 --json benchmarks/cluster_scale_links.json

bench-cluster: $(STAMP)
	$(PY) benchmarks/cluster_table.py --seeds 5 --json benchmarks/cluster_table.json \
		--markdown benchmarks/cluster_table.md

bench-fed: $(STAMP)
	$(PY) benchmarks/fed_vs_inprocess.py --dataset prokaryotic --seeds 5 --json benchmarks/fed_vs_inprocess.json

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis docs/_build docs/auto_examples docs/api/generated
