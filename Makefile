# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What is installed: the hashed locks compiled from requirements/*.txt (`make lock`). `make run`
# needs only what serving needs (the production lock); `make test` adds the tools (the test lock,
# a superset), in the same virtualenv.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
LOCK := requirements/lock/test.txt
PORT ?= 8000
# The generated-client tests' TypeScript tools (openapi-typescript, openapi-fetch, tsc), pinned by
# tests/clients/typescript/package-lock.json and installed with npm from the registry.
NODE_STAMP := tests/clients/typescript/node_modules/.installed
# (Defined up here: make expands a rule's prerequisites when it reads the rule.)
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest stack clean

$(RUN_STAMP): requirements/lock/production.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock/production.txt
	@touch $(RUN_STAMP)

$(STAMP): $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	@touch $(STAMP)

## make run: serve the API and the web client on http://127.0.0.1:$(PORT) with embedded defaults
## (SQLite, local files). Without Node.js (or when the client does not build) it serves the API alone.
## One ASGI process (uvicorn, reloading on code changes) serves the API and the live sync stream
## (GET /v1/sync/events), fanned out in-process since there is no Redis (docs/sync.md).
run: $(RUN_STAMP)
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory web-build || echo "make run: the web client did not build; serving the API alone" >&2; \
	else \
		echo "make run: Node.js is not installed, so the web client is not built; serving the API alone (docs/web.md)" >&2; \
	fi
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py events --host 127.0.0.1 --port $(PORT) --reload

# --- The web client (web/, docs/web.md) ------------------------------------------------------------
# npm packages pinned by web/package-lock.json; the build generates the API's types from the
# schema (manage.py spectacular, no server), type-checks (tsc) and bundles (Vite) into web/dist.
WEB_STAMP := web/node_modules/.installed
.PHONY: web-build web-test web-budgets

$(WEB_STAMP): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $(WEB_STAMP)

web-build: $(RUN_STAMP) $(WEB_STAMP)
	cd web && PYTHON=$(CURDIR)/$(BIN)/python npm run build --silent

## make web-budgets [NOTES=10000]: first-load JS gzipped, time to interactive and the first sync
## of NOTES notes into an empty client, on the local stack (reported, not asserted).
NOTES ?= 10000
web-budgets: $(STAMP) web-build
	$(BIN)/python scripts/devservices.py run -- $(BIN)/python scripts/web_budgets.py $(NOTES)

## make web-test: the client's build (a contract change fails tsc) and its unit tests (Vitest);
## its end-to-end tests run in the browser stage of `make test` (tests/web).
web-test: web-build
	cd web && npx vitest run

## make test: lint, type-check, then the whole suite against throwaway real services: in parallel
## (pytest-xdist, a worker per CPU: each has its own test database and Redis database), then the
## tests that start servers and kill services (marker `stack`) alone. PYTEST_ARGS goes to both
## (e.g. PYTEST_ARGS=tests/notes); a stage that selects nothing (pytest's status 5) is no failure.
PYTEST_WORKERS ?= auto
test: lint typecheck deploy-check $(NODE_STAMP) web-test
	$(BIN)/python scripts/devservices.py run -- sh -c '\
		$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not stack" $(PYTEST_ARGS) || [ $$? -eq 5 ] || exit 1; \
		$(BIN)/python -m pytest -m stack $(PYTEST_ARGS) || [ $$? -eq 5 ]'

$(NODE_STAMP): tests/clients/typescript/package-lock.json
	cd tests/clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

## make pytest PYTEST_ARGS=...: one pytest run as asked (no lint, no stages), against fresh services
pytest: $(STAMP) $(NODE_STAMP) web-build
	$(BIN)/python scripts/devservices.py run -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy apps exampleapp scripts bench

## make stack: the production-like setup locally (services + gunicorn, production settings)
stack: $(STAMP)
	$(BIN)/python scripts/devservices.py run -- scripts/stack.sh

clean:
	rm -rf $(VENV) var staticfiles web/node_modules web/dist web/build

# --- Deployment checks and the container image --------------------------------------------------
# The deploy tools live in their own virtualenv: checkov's dependencies clash with the app's pins.
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed

.PHONY: deploy-check image-check

$(DEPLOY_STAMP): requirements/lock/deploy.txt
	@test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock/deploy.txt
	@touch $(DEPLOY_STAMP)

## make deploy-check: render every overlay, validate (kubernetes-validate, CRD schemas), checkov, hadolint, workflows
deploy-check: $(DEPLOY_STAMP)
	$(DEPLOY_VENV)/bin/python scripts/deploy_check.py

## make image-check: build the image without Docker (buildah), run it non-root and read-only against real services
image-check: $(STAMP)
	scripts/image-check.sh build
	$(BIN)/python scripts/devservices.py run -- scripts/image-check.sh run

# --- Fault drills (issue 8) ----------------------------------------------------------------------
.PHONY: drills

## make drills [QUICK=1]: fault drills against the real stack under load (gunicorn, production
## settings, PostgreSQL primary + standby, Redis, S3), and a point-in-time restore from a WAL
## archive and base backup in S3 (barman-cloud); prints the table, writes it into
## docs/reliability.md, exits non-zero when a figure misses its target. QUICK=1: about 5 minutes.
drills: $(STAMP)
	$(BIN)/python -m drills $(if $(filter-out 0,$(QUICK)),--quick)

# --- Benchmarks (docs/benchmarks.md) -------------------------------------------------------------
# `make bench`: the throwaway services, the app under gunicorn with production settings (+ the
# bench-only baseline views), COPY-seeded data, the ten measures of issue 7 with wrk; writes
# bench/results/<date>.json and regenerates docs/benchmarks.md (~20 min on 2 cores).
# `make bench QUICK=1`: small scales, < 3 min, writes bench/results/<date>-quick.json only.
# BENCH_ARGS passes options to bench/run.py (e.g. --sizes 10000,100000,1000000 --upload-mib 1024).
BENCH_STAMP := $(VENV)/.bench-installed
QUICK ?=
BENCH_ARGS ?=

.PHONY: bench

$(BENCH_STAMP): $(STAMP) requirements/lock/bench.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock/bench.txt
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
		else echo "wrk is missing: apt-get install wrk" >&2; exit 1; fi; }
	$(BIN)/python scripts/devservices.py run -- $(BIN)/python -m bench.run $(if $(QUICK),--quick) $(BENCH_ARGS)

# --- Locked dependencies -------------------------------------------------------------------------
# requirements/*.txt name what we depend on (direct pins, layered with -r); requirements/lock/ is
# what gets installed: every transitive dependency pinned with its hashes, compiled by uv. Edit a
# pin, run `make lock`, commit both. Python 3.11.2 is the oldest interpreter we run on (Debian
# bookworm's, the image-check base); the deploy tools' lock needs 3.11.5 (soupsieve).
.PHONY: lock

lock: $(STAMP)
	cd requirements && for name in production test bench; do \
		../$(BIN)/uv pip compile $$name.txt --generate-hashes --python-version 3.11.2 --no-header --quiet -o lock/$$name.txt; done
	cd requirements && ../$(BIN)/uv pip compile deploy.txt --generate-hashes --python-version 3.11.5 --no-header --quiet -o lock/deploy.txt
