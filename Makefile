# wastex — one entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv is installed from PyPI on first use when the machine lacks it.
UV ?= $(shell command -v uv 2>/dev/null || (python3 -m pip install --quiet uv >&2 && command -v uv) || echo "python3 -m uv")
GATEWAY_STAMP := gateway/node_modules/.wastex-installed

.PHONY: help install run down test lint format bench chaos compose sdl schemas clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(GATEWAY_STAMP): gateway/package-lock.json
	cd gateway && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(GATEWAY_STAMP) ## install Python (uv) and gateway (npm) dependencies
	@$(UV) sync --frozen --all-packages --quiet

run: install ## start broker, services and gateway on SQLite, seed the demo city (Ctrl-C stops)
	$(UV) run wastex dev run

down: ## stop what `make run` started
	@$(UV) run wastex dev down

lint: install ## ruff + mypy --strict
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

format: install ## apply ruff's formatting and safe fixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

test: lint ## lint, then the whole suite (unit, integration on tansu + PostgreSQL + SQLite, contract, e2e)
	$(UV) run pytest

bench: install ## benchmarks → bench/results/latest.json and a table
	$(UV) run python -m bench

chaos: install ## reliability suite → bench/results/chaos.json
	$(UV) run python -m bench.chaos

sdl: install ## write each subgraph's SDL to gateway/subgraphs/
	$(UV) run wastex dev sdl

compose: sdl ## compose gateway/supergraph.graphql from the subgraph SDLs
	cd gateway && npm run --silent compose

schemas: install ## rewrite event JSON Schema snapshots in shared/schemas/
	$(UV) run wastex dev schemas

clean: ## remove local data and logs
	rm -rf .data .run
