# evalkit: `make demo` runs the offline demo; `make test` runs the whole test suite (what CI runs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUITE  ?= news

.PHONY: demo install install-dev test demo-train clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# torch is pinned and installed first: 2.13.0 is the local CPU wheel on this machine kind, while any other
# torch spec would pull several GB of CUDA packages. It belongs to the `train` extra only.
install-dev: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train]'
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

clean:
	rm -rf $(VENV) build *.egg-info
