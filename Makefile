# The README's two commands are `make dev` and `make test`; both install what they need first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.zapline-installed

.PHONY: install install-browser dev sandbox test lint bench bench-peers clean lock

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Zapline needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

dev: install
	$(BIN)/zapline dev

sandbox: install
	$(BIN)/zapline sandbox

# The dashboard's browser tests drive the system Chromium (tests/dashboard skip without it). Installed
# when we are root with apt-get; otherwise one line says what to install. Never fails.
install-browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null || echo "could not install chromium: the dashboard tests will be skipped"; \
	else echo "install chromium (e.g. sudo apt-get install chromium) to run the dashboard tests; they are skipped without it"; fi

test: install install-browser
	$(BIN)/python -m pytest -n 2

lint: install
	$(BIN)/ruff check lib functions tests
	$(BIN)/ruff format --check lib functions tests
	$(BIN)/mypy

bench: install
	$(BIN)/python -m tests.benchmarks

# Fault injection on the sandbox stack: N distinct messages (default 1000) through a relay, QStash
# and functions that fail on the way; `make chaos N=10000` for a full run. Exits non-zero on a loss.
.PHONY: chaos
chaos: install
	$(BIN)/python -m tests.chaos --messages $(or $(N),1000)

# Zapline's inbound path next to a BullMQ worker doing the same work, on one redis-server.
bench-peers: install
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "bench-peers needs Node.js >= 18 and npm: apt-get install -y nodejs npm"; exit 1; }
	cd tests/peers && npm ci --no-audit --no-fund --silent
	$(BIN)/python -m tests.benchmarks peers

# Re-pin every dependency (runtime and dev) to what resolves today.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude zapline > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build lib/*.egg-info
