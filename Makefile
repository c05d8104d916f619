# Two commands on a fresh machine: `make run` (the app on the bundled sample data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
# The tested torch range. For a CPU-only or a specific CUDA build, install torch into the venv first
# (see README: "GPU and CPU builds of torch"); this line then installs nothing more.
TORCH ?= torch>=2.2,<2.14
BIN := $(VENV)/bin

.PHONY: run test install lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/recsys-gui --data sample_data/interactions.csv

test: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
