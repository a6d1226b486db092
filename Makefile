# The transparency assistant: `make run` starts it, `make test` tests it. Both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 needs Python 3.10; the back office runs on the machine's newer Python.
PYTHON310 ?= $(shell for p in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
PYTHON_BO ?= $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)

export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

RASA_VENV := .venv/rasa
BO_VENV := .venv/backoffice
RASA := $(RASA_VENV)/bin/rasa
MODEL := models/current.tar.gz
MODEL_INPUTS := config.yml bot/domain.yml bot/language.py bot/lemmas.py bot/linear_intents.py bot/sentence_encoder.py bot/cannot_answer.py bot/category_words.py bot/typed_values.py bot/value_shapes.py \
	$(shell find data -name '*.yml')
FILE ?= ../shared/eval/questions_en_dev.tsv

# `make test TEST_TODAY=2027-03-15`: every Python process of the suites lives on that day, its clock
# running on (tests/clock/sitecustomize.py); whole days, so the time of day stays the machine's.
ifdef TEST_TODAY
export TEST_CLOCK_SHIFT_SECONDS := $(shell echo $$(( $$(date -u -d '$(TEST_TODAY)' +%s) - $$(date -u -d "$$(date -u +%F)" +%s) )))
export PYTHONPATH := $(CURDIR)/tests/clock$(if $(PYTHONPATH),:$(PYTHONPATH))
endif

.PHONY: help run bench test test-back-office-lane test-assistant-lane check lint shell stop eval validate-knowledge publish-knowledge deps test-deps clean

help:
	@echo "make run    start the assistant and print the demo website's address"
	@echo "make check  lint and the pure tests, in a few minutes"
	@echo "make test   install what the tests need and run them all (TEST_TODAY=YYYY-MM-DD: on that day)"
	@echo "make shell  chat with the assistant in the terminal"
	@echo "make bench  measure the assistant beside a stock rasa init bot (docs/performance.md), 15-30 min"
	@echo "make eval FILE=\"<tsv> ...\"  measure topic accuracy on one or more question sets"
	@echo "make stop   stop what make run started"

# Each environment installs its runtime lock, then its test lock, then the project's own packages it
# runs (without dependencies: the locks hold them). A deployment installs the runtime lock and those packages.
# chatprotocol, the ids both sides of the HTTP line use, and texts, the text catalogue both sides read, go into both;
# their folders (chat-protocol/, text-catalogue/) are names no import can mean, so that from the repository root
# `import chatprotocol` and `import texts` find the packages, not the folders.
$(RASA_VENV)/.installed: requirements/rasa.txt requirements/rasa-test.txt chat-protocol/pyproject.toml text-catalogue/pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found (Rasa 3.6 needs it); pyenv versions:"; pyenv versions 2>/dev/null; exit 1; }
	@echo "==> Rasa environment ($(PYTHON310)); first time takes ~5 min"
	$(PYTHON310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --quiet --upgrade pip==24.0
	$(RASA_VENV)/bin/pip install --progress-bar on --require-hashes -r requirements/rasa.txt
	$(RASA_VENV)/bin/pip install --quiet --require-hashes -r requirements/rasa-test.txt
	$(RASA_VENV)/bin/pip install --quiet --no-deps -e chat-protocol -e text-catalogue
	touch $@

$(BO_VENV)/.installed: requirements/backoffice.txt requirements/backoffice-test.txt backend/pyproject.toml companysystems/pyproject.toml \
		chat-protocol/pyproject.toml text-catalogue/pyproject.toml
	@test -n "$(PYTHON_BO)" || { echo "Python >= 3.11 not found for the back office"; exit 1; }
	@echo "==> back office environment ($(PYTHON_BO))"
	$(PYTHON_BO) -m venv $(BO_VENV)
	$(BO_VENV)/bin/pip install --quiet --require-hashes -r requirements/backoffice.txt
	$(BO_VENV)/bin/pip install --quiet --require-hashes -r requirements/backoffice-test.txt
	$(BO_VENV)/bin/pip install --quiet --no-deps -e backend -e companysystems -e chat-protocol -e text-catalogue
	touch $@

web/node_modules/.installed: web/package-lock.json
	@echo "==> website dependencies (npm)"
	cd web && npm ci --no-audit --no-fund
	touch $@

# The website widget's one script: chat.js bundled with the pinned socket.io client (git-ignored, never copied by hand).
web/static/widget.js: web/node_modules/.installed web/static/chat.js
	@echo "==> the website widget (web/static/widget.js, esbuild)"
	cd web && npx --no-install esbuild static/chat.js --bundle --minify --format=iife --target=es2017 --log-level=warning --outfile=static/widget.js

.env: .env.example
	@echo "==> .env with fresh secrets (from .env.example)"
	@test -f .env || sed -e "s/^RASA_API_TOKEN=change-me/RASA_API_TOKEN=$$(openssl rand -hex 24)/" \
		-e "s/^BACKOFFICE_SERVICE_TOKEN=change-me/BACKOFFICE_SERVICE_TOKEN=$$(openssl rand -hex 24)/" \
		-e "s/^COMPANY_SYSTEMS_TOKEN=change-me/COMPANY_SYSTEMS_TOKEN=$$(openssl rand -hex 24)/" \
		-e "s/^ACTION_SERVER_TOKEN=change-me/ACTION_SERVER_TOKEN=$$(openssl rand -hex 24)/" \
		-e "s/^DEMO_AGENT_1_PASSWORD=change-me/DEMO_AGENT_1_PASSWORD=$$(openssl rand -hex 12)/" \
		-e "s/^DEMO_AGENT_2_PASSWORD=change-me/DEMO_AGENT_2_PASSWORD=$$(openssl rand -hex 12)/" \
		-e "s/^DEMO_PRIVACY_OFFICER_PASSWORD=change-me/DEMO_PRIVACY_OFFICER_PASSWORD=$$(openssl rand -hex 12)/" \
		-e "s/^SESSION_TOKEN_SECRET=change-me/SESSION_TOKEN_SECRET=$$(openssl rand -hex 24)/" \
		-e "s/^OTP_SECRET=change-me/OTP_SECRET=$$(openssl rand -hex 24)/" \
		-e "s/^CHAT_SESSION_ID_SECRET=change-me/CHAT_SESSION_ID_SECRET=$$(openssl rand -hex 24)/" \
		-e "s/^EXPORT_LINK_SECRET=change-me/EXPORT_LINK_SECRET=$$(openssl rand -hex 24)/" .env.example > .env
	@touch .env

/usr/bin/chromium:
	@echo "==> Chromium for the browser tests (Debian package)"
	apt-get update -q && apt-get install -y -q chromium

/usr/bin/redis-server:
	@echo "==> Redis for the tests that share it between processes (Debian package)"
	apt-get install -y -q redis-server || { apt-get update -q && apt-get install -y -q redis-server; }

# The tests connect to PostgreSQL as postgres without a password: a cluster installed here trusts local TCP connections.
/etc/postgresql:
	@echo "==> PostgreSQL for the tests (Debian package), trusting connections from this machine"
	apt-get install -y -q postgresql || { apt-get update -q && apt-get install -y -q postgresql; }
	sed -i -E 's/^(host +all +all +(127\.0\.0\.1\/32|::1\/128) +)[a-z0-9-]+$$/\1trust/' /etc/postgresql/*/main/pg_hba.conf
	pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main reload 2>/dev/null || true

# The deployment files' test checks the reverse proxy's configuration with `haproxy -c` (tests/test_deployment_files.py).
/usr/sbin/haproxy:
	@echo "==> HAProxy for the check of the reverse proxy's configuration (Debian package)"
	apt-get install -y -q haproxy || { apt-get update -q && apt-get install -y -q haproxy; }

/usr/bin/faketime:
	@echo "==> libfaketime for the test of a knowledge version taking effect at midnight (Debian package)"
	apt-get install -y -q faketime || { apt-get update -q && apt-get install -y -q faketime; }

deps: $(RASA_VENV)/.installed $(BO_VENV)/.installed web/node_modules/.installed web/static/widget.js .env

validate-knowledge: $(BO_VENV)/.installed
	@cd backend && ../$(BO_VENV)/bin/python -m backoffice validate

publish-knowledge: $(BO_VENV)/.installed
	cd backend && ../$(BO_VENV)/bin/python -m backoffice publish

# Trained only when the data, domain, config or the language component changed.
$(MODEL): $(MODEL_INPUTS) $(RASA_VENV)/.installed
	@echo "==> training the model (about 3-5 min on 2 cores)"
	$(RASA) train --config config.yml --domain bot/domain.yml --data data --out models --fixed-model-name current

run: deps validate-knowledge $(MODEL)
	@$(RASA_VENV)/bin/python scripts/stack.py run

# The model target is run (and timed) by the bench itself, first: the training time is one of its figures.
bench: deps validate-knowledge
	@$(RASA_VENV)/bin/python -m bench

shell: deps validate-knowledge $(MODEL)
	@$(RASA_VENV)/bin/python scripts/stack.py shell

stop:
	@$(RASA_VENV)/bin/python scripts/stack.py stop

# PostgreSQL and Redis installed above, then started unless they run already (scripts/services.sh).
test-deps: deps /usr/bin/chromium /usr/bin/faketime /usr/bin/redis-server /usr/sbin/haproxy /etc/postgresql
	@bash scripts/services.sh

# ruff and mypy over every Python part, each with its own settings (pyproject.toml in the root, backend/, companysystems/,
# chat-protocol/, the last with the older Python of the two that import it),
# and the layers of the back office's import graph (lint-imports, backend/pyproject.toml).
lint: deps
	@echo "==> ruff and mypy: the assistant (actions, bench, bot, connectors, scripts, the text catalogue), the back office, the company systems, chatprotocol"
	$(RASA_VENV)/bin/ruff check actions bench bot connectors scripts tests text-catalogue
	$(RASA_VENV)/bin/mypy
	cd backend && ../$(BO_VENV)/bin/ruff check backoffice tests && ../$(BO_VENV)/bin/mypy && ../$(BO_VENV)/bin/lint-imports --no-cache
	cd companysystems && ../$(BO_VENV)/bin/ruff check && ../$(BO_VENV)/bin/mypy
	cd chat-protocol && ../$(RASA_VENV)/bin/ruff check && ../$(RASA_VENV)/bin/mypy

# The quick loop: lint and the tests marked `unit` (scripts/kinds.py); the company systems have none.
check: lint validate-knowledge
	cd backend && ../$(BO_VENV)/bin/python -m pytest -q -m unit
	$(RASA_VENV)/bin/python -m pytest -q -m unit tests

# The suites run in two lanes at once, each a process mostly waiting on the ones it starts: the back office's
# and the company systems' (no model needed) beside the model's training, the stories and the assistant's.
# Every suite starts its processes on free ports with databases of its own, so the lanes share nothing.
# -O prints each lane's output whole when it ends; a failing lane fails `make test`.
test: test-deps validate-knowledge
	@test -z "$(TEST_TODAY)" || for py in $(RASA_VENV)/bin/python $(BO_VENV)/bin/python; do \
		$$py -c 'import datetime, sys; print(sys.argv[1], "lives on", datetime.date.today()); assert str(datetime.date.today()) == sys.argv[2]' $$py $(TEST_TODAY) || exit 1; done
	@$(MAKE) --no-print-directory -j2 -O test-back-office-lane test-assistant-lane

test-back-office-lane: lint
	@echo "==> back office tests"
	cd backend && ../$(BO_VENV)/bin/python -m pytest -q
	@echo "==> demo company systems tests (SQLite and PostgreSQL)"
	cd companysystems && ../$(BO_VENV)/bin/python -m pytest -q

test-assistant-lane: $(MODEL)
	@echo "==> rasa data validate"
	$(RASA) data validate --config config.yml --domain bot/domain.yml --data data --fail-on-warnings
	@echo "==> test stories"
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out var/results
	@echo "==> assistant tests: actions, end to end through REST and socket.io, browser"
	$(RASA_VENV)/bin/python -m pytest -q tests

eval: deps validate-knowledge $(MODEL)
	@$(RASA_VENV)/bin/python scripts/eval.py $(FILE)

clean:
	rm -rf models var
