# evalkit: `make demo` runs the offline demo; `make test` runs the whole test suite (what CI runs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUITE  ?= bsard
# pip prints errors only (-qq): the demo's console is evalkit's (no setuptools editable-install notice, no
# warnings about this machine's pip index settings). `make PIP_QUIET= demo` shows all of pip's output.
PIP_QUIET ?= -qq
# Every extra the tests need: dev (pytest, RAGAS, the packaging test's build tools), train (torch, peft), and the
# integrations tested against real local instances (MLflow store, W&B offline, a local Ray cluster).
TEST_EXTRAS := dev,train,mlflow,wandb,ray

.PHONY: demo install install-dev test demo-train bench bench-quick profile clean

$(BIN)/python:
	@echo "evalkit: creating the virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install $(PIP_QUIET) --upgrade pip

install: $(BIN)/python
	@echo "evalkit: installing evalkit into $(VENV) (the first time, pip compiles llama-cpp-python: ~8 min on 2 cores)"
	@$(BIN)/pip install $(PIP_QUIET) -e .

# torch is pinned and installed first: 2.13.0 is the local CPU wheel on this machine kind, while any other
# torch spec would pull several GB of CUDA packages. It belongs to the `train` extra only.
install-dev: $(BIN)/python
	@echo "evalkit: installing evalkit with the extras $(TEST_EXTRAS) into $(VENV)"
	@$(BIN)/pip install $(PIP_QUIET) torch==2.13.0
	@$(BIN)/pip install $(PIP_QUIET) -e '.[$(TEST_EXTRAS)]'
	@# The blind-packet browser test drives Debian's chromium through Playwright (never `playwright install`,
	@# which downloads a browser build); install it when missing and we may (root with apt), else the test skips.
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq chromium; fi

demo: install
	$(BIN)/evalkit run $(SUITE) --models base,ft

demo-train: install-dev
	$(BIN)/evalkit demo train $(SUITE)

test: install-dev
	$(BIN)/python -m pytest

# The performance benchmark (benchmarks/perf/README): evalkit against inspect-ai, lm-eval and promptfoo on one
# loopback server; the peers install into ~/.cache/evalkit-bench on first use. A full run takes hours.
bench: install-dev
	@$(BIN)/pip install $(PIP_QUIET) -e '.[bench]'
	$(BIN)/python benchmarks/perf/run.py

bench-quick: install-dev
	@$(BIN)/pip install $(PIP_QUIET) -e '.[bench]'
	$(BIN)/python benchmarks/perf/run.py --quick

profile: install-dev
	@$(BIN)/pip install $(PIP_QUIET) -e '.[bench]'
	$(BIN)/python benchmarks/perf/callprofile.py

clean:
	rm -rf $(VENV) build dist *.egg-info
