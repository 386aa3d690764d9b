# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQS := requirements/base.txt requirements/production.txt requirements/test.txt
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest stack clean

$(STAMP): $(REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/test.txt
	@touch $(STAMP)

## make run: serve the API on http://127.0.0.1:$(PORT) with embedded defaults (SQLite, local files)
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

## make test: lint, type-check, then the whole suite against throwaway real services
test: lint typecheck deploy-check
	$(BIN)/python scripts/devservices.py run -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy apps exampleapp scripts

## make stack: the production-like setup locally (services + gunicorn, production settings)
stack: $(STAMP)
	$(BIN)/python scripts/devservices.py run -- scripts/stack.sh

clean:
	rm -rf $(VENV) var staticfiles

# --- Deployment checks and the container image --------------------------------------------------
# The deploy tools live in their own virtualenv: checkov's dependencies clash with the app's pins.
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed

.PHONY: deploy-check image-check

$(DEPLOY_STAMP): requirements/deploy.txt
	@test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/deploy.txt
	@touch $(DEPLOY_STAMP)

## make deploy-check: render every overlay, validate (kubernetes-validate, CRD schemas), checkov, hadolint, workflows
deploy-check: $(DEPLOY_STAMP)
	$(DEPLOY_VENV)/bin/python scripts/deploy_check.py

## make image-check: build the image without Docker (buildah), run it non-root and read-only against real services
image-check: $(STAMP)
	scripts/image-check.sh build
	$(BIN)/python scripts/devservices.py run -- scripts/image-check.sh run
