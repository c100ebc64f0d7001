# Two commands: `make book` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The reader environment: what a Colab or plain-Jupyter reader has (the library's runtime
# dependencies and a kernel, no book tooling). `make test` executes every notebook in it.
READER ?= .venv-reader
READER_KERNEL ?= dgm-reader
# A CPU build of torch by default. For CUDA: make book TORCH_INDEX=https://download.pytorch.org/whl/cu128
# For a small CPU-only wheel from PyTorch's index: make book TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=
# Small models run fastest single-threaded, and `make test` runs two notebooks at a time.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
# Trained models that the side-by-side and applications chapters compare (state_dicts, keyed by configuration
# and library source; see tutorial_lib.cache). `make cache` trains the missing ones.
export TUTORIAL_CACHE ?= $(CURDIR)/.cache
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
READER_PIP := $(READER)/bin/python -m pip --quiet --disable-pip-version-check
LIBRARY := pyproject.toml $(shell find src -name '*.py')

.PHONY: book test bench clean env reader cache

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(PIP) install -e ".[book,test]"
	touch $@

reader: $(READER)/.installed

# torch from the same source as above, ipykernel, then the chapters' own Colab install cell
# run against this checkout; the kernel is registered in $(VENV) for nbval.
$(READER)/.installed: $(LIBRARY) book/intro/why_generative.ipynb $(VENV)/.installed
	rm -rf $(READER) build
	$(PYTHON) -m venv $(READER)
	$(READER_PIP) install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(READER_PIP) install ipykernel
	TUTORIAL_LIB_SOURCE="file://$(CURDIR)" $(READER)/bin/python tests/reader_setup_cell.py book/intro/why_generative.ipynb
	$(READER)/bin/python -m ipykernel install --prefix "$(CURDIR)/$(VENV)" --name $(READER_KERNEL) \
		--display-name "Python (reader: tutorial-lib only)" > /dev/null
	rm -rf build
	touch $@

# the models that the side-by-side and applications chapters compare, trained by their
# chapters' recipes where missing
cache: $(VENV)/.installed
	TUTORIAL_BOOK_BUILD=1 $(BIN)/python -m tutorial_lib.chapters.side_by_side  # no progress bars
	TUTORIAL_BOOK_BUILD=1 $(BIN)/python -m tutorial_lib.chapters.anomaly

book: $(VENV)/.installed cache
	TUTORIAL_BOOK_BUILD=1 $(BIN)/jupyter-book build . -W -n --keep-going

test: $(VENV)/.installed $(READER)/.installed cache
	$(BIN)/python -m pytest --nbval-kernel-name $(READER_KERNEL)

bench: $(VENV)/.installed
	$(PIP) install -e ".[bench]"
	$(BIN)/python -m benchmarks all --out bench-results.json

clean:
	rm -rf _build build .cache
