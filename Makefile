# Two commands: `make book` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A CPU build of torch by default. For CUDA: make book TORCH_INDEX=https://download.pytorch.org/whl/cu128
# For a small CPU-only wheel from PyTorch's index: make book TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=
# Small models run fastest single-threaded, and `make test` runs two notebooks at a time.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: book test bench clean env

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(PIP) install -e ".[book,test]"
	touch $@

book: $(VENV)/.installed
	$(BIN)/jupyter-book build . -W -n --keep-going

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(PIP) install -e ".[bench]"
	$(BIN)/python -m benchmarks all --out bench-results.json

clean:
	rm -rf _build
