# Future Fitness backend. `make help` lists the targets.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` is for a developer's machine: DEBUG on (which also allows the built-in
# development SECRET_KEY) unless the caller says otherwise.
RUN_ENV := DEBUG=$${DEBUG:-true}
# WebSocket keepalive: the server pings every WS_PING_INTERVAL seconds and drops a socket
# whose pong is WS_PING_TIMEOUT seconds late, so dead phones are noticed and proxies and load
# balancers see traffic on idle sockets. WS_MAX_SIZE caps one incoming message (uvicorn
# closes with 1009 past it); it sits above the app's WS_MAX_FRAME_BYTES (64 KiB), which
# answers an error frame instead.
WS_PING_INTERVAL ?= 20
WS_PING_TIMEOUT ?= 20
WS_MAX_SIZE ?= 1048576
UVICORN := $(BIN)/uvicorn fitness.asgi:application --lifespan off --host $(HOST) --port $(PORT) \
	--ws-ping-interval $(WS_PING_INTERVAL) --ws-ping-timeout $(WS_PING_TIMEOUT) \
	--ws-max-size $(WS_MAX_SIZE) --no-access-log

# bench/ also holds the raw baselines, their runner and the in-process profiler: not benchmarks.
BENCH_SCRIPTS = $(filter-out bench/raw_lists.py bench/raw_sync.py bench/side_by_side.py bench/profile_request.py,$(wildcard bench/*.py))

.DEFAULT_GOAL := help
.PHONY: help install run serve worker beat migrate test lint format check clients bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed ## Create .venv and install requirements.txt

migrate: install ## Apply database migrations
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput

run: migrate ## Serve HTTP + WebSocket on 127.0.0.1:8000 (and a worker when REDIS_URL is set)
	@echo ""
	@echo "  Future Fitness API    http://$(HOST):$(PORT)/api/v1/"
	@echo "  API docs (Swagger)    http://$(HOST):$(PORT)/api/docs/"
	@echo "  OpenAPI schema        http://$(HOST):$(PORT)/api/schema/"
	@echo "  Admin                 http://$(HOST):$(PORT)/$${ADMIN_URL:-admin/}"
	@echo "  WebSocket (events)    ws://$(HOST):$(PORT)/ws/events/"
	@echo "  WebSocket (AI coach)  ws://$(HOST):$(PORT)/ws/ai/chat/<session_id>/"
	@echo "  Create a staff user:  $(BIN)/python manage.py createsuperuser"
	@echo ""
	@if [ -n "$$REDIS_URL$$CELERY_BROKER_URL" ]; then \
		echo "  Broker configured: starting a Celery worker beside the server."; \
		$(RUN_ENV) $(BIN)/celery -A fitness worker --beat --loglevel INFO & \
		trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
		$(RUN_ENV) $(UVICORN); \
	else \
		$(RUN_ENV) $(UVICORN); \
	fi

worker: install ## Run a Celery worker (with the beat scheduler) against the configured broker
	$(RUN_ENV) $(BIN)/celery -A fitness worker --beat --loglevel INFO

# The suite runs on two pytest-xdist workers, each with its own database, Redis prefixes and
# media folder (tests/settings.py). Not `--dist loadgroup` or `loadfile`: they schedule by
# node id, and schemathesis gives all its operation tests one id, so all but one would be
# dropped. `make test PYTEST_XDIST=` runs the suite in one process.
PYTEST_XDIST ?= --numprocesses 2 --dist worksteal

test: install ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

lint: install ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: install ## Django checks: migrations, OpenAPI schema, deploy settings
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/python manage.py spectacular --fail-on-warn --file /dev/null
	DEBUG=false SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
		ALLOWED_HOSTS=api.example.com \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

clients: install ## Regenerate clients/typescript/src/schema.d.ts from the OpenAPI schema (needs node, npm)
	$(BIN)/python manage.py typescript_client --typecheck

bench: install ## Run the benchmarks in bench/ against a running server (see README)
	@for script in $(BENCH_SCRIPTS); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) db.sqlite3 media staticfiles
