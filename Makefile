# make run: bootstrap, prepare the CRM, train if needed, start all services.
# make test: the same bootstrap, then every test (this is what CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
WEB_STAMP := web/node_modules/.installed
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
NGINX := /usr/sbin/nginx
REDIS := /usr/bin/redis-server
POSTGRES := /usr/lib/postgresql/15/bin/initdb
# Test files run in two pytest-xdist workers: most tests wait on services, so two keep both
# cores busy (tests/conftest.py says what runs together). TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test test-fast lint lock train prepare clean bench

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# Rasa declares Python <3.11: the lock is resolved for 3.10 and installed as-is. Compiled to
	# bytecode once here: with PYTHONDONTWRITEBYTECODE set (as on the CI machines) every process
	# would otherwise compile Rasa and TensorFlow from source again (about 15 s each).
	$(BIN)/uv pip install --python $(BIN)/python --no-deps --quiet --compile-bytecode -r requirements/lock.txt
	$(BIN)/uv pip install --python $(BIN)/python --no-deps --quiet -e .
	touch $(STAMP)

# The widget's socket.io client, from the npm lock.
$(WEB_STAMP): web/package-lock.json
	npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here),
# with a Chinese font so screenshots show text, not boxes.
$(CHROMIUM) $(CJK_FONT):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-wqy-microhei

# The scale-out test (tests/test_scaleout.py) runs Debian's PostgreSQL, Redis and nginx itself, on
# loopback and free ports, and stops them afterwards.
$(NGINX) $(REDIS) $(POSTGRES):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx redis-server postgresql

run: $(STAMP) $(WEB_STAMP)
	$(BIN)/salesbot run

prepare: $(STAMP)
	$(BIN)/salesbot prepare

train: $(STAMP)
	$(BIN)/salesbot train

test: $(STAMP) $(WEB_STAMP) $(CHROMIUM) $(CJK_FONT) $(NGINX) $(REDIS) $(POSTGRES)
	$(MAKE) --no-print-directory lint
	$(BIN)/salesbot prepare
	# Train before pytest: the per-test timeout is for tests, not for a cold training on a busy machine.
	$(BIN)/salesbot train
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The edit-test loop: every test that needs no trained model (so no Rasa server and no browser)
# and takes under 5 s on its own.
test-fast: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(BIN)/salesbot prepare
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not model and not slow" --hypothesis-profile=fast

# Latency, capacity, memory and a forced training of our model against a minimal Rasa bot, and the
# growth pages; writes docs/benchmark.md (not part of `make test`). BENCH_TRAIN=0 skips the training
# (about 5 minutes); PROFILE=1 also records py-spy profiles of the servers into var/bench/.
bench: $(STAMP) $(POSTGRES)
	BENCH_TRAIN=$${BENCH_TRAIN-1} $(BIN)/python -m bench $(if $(filter 1,$(PROFILE)),--profile)

# Style, then the import contract in pyproject.toml (layers, no cycles).
lint: $(STAMP)
	$(BIN)/ruff check bot actions bench tests
	$(BIN)/lint-imports --no-logo --no-cache

# Regenerate the lock: Rasa plus every dependency, resolved together as if for 3.10.
lock: $(STAMP)
	$(BIN)/uv pip compile --python-version 3.10 --override requirements/overrides.txt \
		requirements/requirements.in -o requirements/lock.txt

clean:
	rm -rf $(VENV) models var .pytest_cache .ruff_cache
