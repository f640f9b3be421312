# samldebug: `make run` serves the page, `make test` runs everything CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint typecheck pytest bench fuzz clean venv system-deps golden

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3-venv is missing: installing it with apt"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(STAMP)

run: venv
	$(BIN)/samldebug serve --host $(HOST) --port $(PORT)

# Debian packages the tests use: chromium for the browser tests (Playwright cannot download its own browser
# here), postgresql for the PostgreSQL storage tests, xmlsec1 for the pysaml2 IdP of the test SP's end-to-end
# tests, redis-server for rate limits shared between instances, nginx as the authenticating reverse proxy in front
# of the sign-in tests. Without root, missing ones make those tests skip (and fail under REQUIRE_BROWSER=1 /
# REQUIRE_POSTGRES=1 / REQUIRE_IDP=1 / REQUIRE_REDIS=1 / REQUIRE_NGINX=1, as in CI).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@missing=""; \
	  [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  [ -x /usr/bin/xmlsec1 ] || missing="$$missing xmlsec1"; \
	  [ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	  [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null) \
	      || echo "WARNING: could not install$$missing; the tests that need them will skip"; \
	  fi

lint: venv
	$(BIN)/ruff check samldebug tests benchmarks
	$(BIN)/ruff format --check samldebug tests benchmarks

typecheck: venv
	$(BIN)/mypy

# pytest's own exit code is kept: exit 5 (no tests collected) fails the build.
pytest: venv
	$(BIN)/python -m pytest

test: venv system-deps lint typecheck pytest

# Golden reports (tests/golden): rewrite the expected JSON from the current code and review the diff.
# ARGS=--fixtures also rebuilds the factory-made fixtures (new keys and IDs).
golden: venv
	PYTHONPATH=tests $(BIN)/python -m golden.regen $(ARGS)

bench: venv
	$(BIN)/python benchmarks/bench_analyze.py --write
	@[ ! -f benchmarks/bench_har.py ] || $(BIN)/python benchmarks/bench_har.py --write
	$(BIN)/python benchmarks/bench_paths.py --write
	$(BIN)/python benchmarks/bench_signin.py --write
	$(BIN)/python benchmarks/load.py --write
	$(BIN)/python benchmarks/bench_hostile.py 3
	@if command -v wrk >/dev/null; then $(BIN)/python benchmarks/load_api.py --write; \
	  else echo "wrk is not installed (apt-get install wrk): load_api.py skipped"; fi

# Coverage-guided fuzzing (atheris) for a bounded time per target: FUZZ_SECONDS=600 make fuzz
FUZZ_SECONDS ?= 60
fuzz: venv
	$(BIN)/pip install -q -e '.[fuzz]'
	$(BIN)/python fuzz/seeds.py build/fuzz
	$(BIN)/python fuzz/fuzz_analyze.py build/fuzz/analyze -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -artifact_prefix=build/fuzz/
	@[ ! -f fuzz/fuzz_har.py ] || $(BIN)/python fuzz/fuzz_har.py build/fuzz/har -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -artifact_prefix=build/fuzz/

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
