# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Drops pip's notes about absent local mirror folders; pip's own exit status still counts.
QUIET_PIP := { grep -v 'is ignored: it is neither a file nor a directory' || [ $$? -eq 1 ]; }
DEMO := demo

.PHONY: venv demo demo-mace demo-bandgap test test-all debian lint bench docs clean

venv: $(STAMP)

# torch first and pinned: on these machines 2.13.0 is a CPU build; an unpinned torch pulls CUDA.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet -e '.[dev]' 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import torch, curate.cli.app"
	touch $@

# The main job: the quickstart campaign (pipelines/quickstart.yaml); re-running resumes it. Then
# the band-gap study from its shipped DFT labels (seconds: below), the samplers' fair comparison.
demo: $(STAMP)
	$(BIN)/curate run quickstart --out $(DEMO)
	$(BIN)/curate info $(DEMO)/sets.zarr
	@echo "report: $(DEMO)/report.html"
	$(MAKE) --no-print-directory demo-bandgap

# MACE learning curves (energy, forces, stress) on the quickstart's sets, at equal labelling
# budget too: the active-learning set against the static ones (docs/results.md).
demo-mace: demo
	$(BIN)/curate compare $(DEMO)/sets.zarr --model mace --reference $(DEMO)/reference.zarr \
		--sizes 20,40 --seeds 2 --workers 2 --out $(DEMO)/mace
	@echo "report: $(DEMO)/mace/report.html"

# The band-gap study (pipelines/bandgap.yaml) from the shipped CP2K labels: the campaign folder in
# datasets/bandgap/ holds the sampled frames, their labels and the trained cells, so only the
# reports are written (CP2K is needed only for frames the shipped set has no label for). SchNet
# (the recipe's compare), then the best of the paper's six GraphConv models on these labels
# (paper-4, by `curate hpo`: docs/results.md).
BANDGAP := runs/bandgap
demo-bandgap: $(STAMP)
	test -d $(BANDGAP) || { mkdir -p $(dir $(BANDGAP)) && \
		tar xzf datasets/bandgap/campaign.tar.gz -C $(dir $(BANDGAP)) && \
		$(BIN)/python -m zipfile -e datasets/bandgap/sets.zip $(BANDGAP)/sets.zarr && \
		$(BIN)/python -m zipfile -e datasets/bandgap/reference.zip $(BANDGAP)/reference.zarr; }
	$(BIN)/curate run bandgap --out $(BANDGAP)
	$(BIN)/curate compare $(BANDGAP)/sets.zarr --model paper-4 --hidden 64 --lr 1e-3 \
		--batch-size 16 --reference $(BANDGAP)/reference.zarr --label-set cp2k \
		--target band_gap --target vbm --sizes 10,20,40,64,128 --seeds 3 --combined \
		--out $(BANDGAP)/graphconv
	@echo "reports: $(BANDGAP)/report.html (SchNet), $(BANDGAP)/graphconv/report.html (paper-4)"

test: $(STAMP) debian
	$(BIN)/python -m pytest -q

# Debian packages the tests drive where root can install them: CP2K (cp2k_shell, cp2k.psmp and
# cp2k-data's basis sets and pseudopotentials) and a single-node SLURM (slurmctld, slurmd, munge).
# Elsewhere the CP2K and SLURM tests skip and say why.
DEBIAN_PACKAGES := cp2k slurmctld slurmd slurm-client munge
debian:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || \
		echo "could not install $$missing: their tests will skip"; \
	else echo "not root or no apt-get: $$missing not installed, their tests will skip"; fi

# GPAW from PyPI compiles against Debian's libxc and OpenBLAS, with g++ as its C compiler.
$(VENV)/.installed-dft: $(STAMP)
	dpkg -s libxc-dev libopenblas-dev >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxc-dev libopenblas-dev)
	CC=g++ $(BIN)/python -m pip install --quiet -e '.[dev,dft,cluster]' 2>&1 | $(QUIET_PIP)
	touch $@

# Everything: the slow, DFT (GPAW) and GPU tests too; GPU tests skip without CUDA.
test-all: $(VENV)/.installed-dft debian
	$(BIN)/python -m pytest -q -m ""

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/store_read.py --out benchmarks/results/store_read.json
	$(BIN)/python benchmarks/label_throughput.py --out benchmarks/results/label_throughput.json
	$(BIN)/python benchmarks/thermal_sampling.py --out benchmarks/results/thermal_sampling.json
	$(BIN)/python benchmarks/graph_build.py --out benchmarks/results/graph_build.json
	$(BIN)/python benchmarks/train_throughput.py --out benchmarks/results/train_throughput.json
	$(BIN)/python benchmarks/diversity_entropy.py --out benchmarks/results/diversity_entropy.json
	$(BIN)/python benchmarks/active_iteration.py --out benchmarks/results/active_iteration.json
	$(BIN)/python benchmarks/store_scale.py --out benchmarks/results/store_scale.json
	$(BIN)/python benchmarks/entropy_scale.py --out benchmarks/results/entropy_scale.json

# docs/cli.md is generated from the commands' own help (a test checks it is current).
docs: $(STAMP)
	$(BIN)/typer curate.cli.app utils docs --name curate --output docs/cli.md

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
