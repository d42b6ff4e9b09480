# rescp — `make help` lists every target. Everything runs from a local virtualenv (.venv) that
# the first target needing it creates, so a fresh machine needs nothing but Python 3.11+.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SHARED := ../shared
LISTEN ?= 0.0.0.0:50051
HTTP_LISTEN ?= 0.0.0.0:8080
CONNECT_ES := tests/http/connect_es
NODE_STAMP := $(CONNECT_ES)/node_modules/.installed
CONFIG ?= examples/rescp.toml
GO_DIR := clients/go
TS_DIR   := clients/node
TS_STAMP := $(TS_DIR)/node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help install serve test lint typecheck proto proto-check contract bench clean go-proto go-test \
	node-proto node-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]' -e 'clients/python'
	touch $(STAMP)

install: $(STAMP) ## create .venv with the server, the client and the dev tools

serve: $(STAMP) ## run the server: gRPC on $(LISTEN), HTTP on $(HTTP_LISTEN), with $(CONFIG)
	$(VENV)/bin/rescp serve --listen $(LISTEN) --http-listen $(HTTP_LISTEN) --config $(CONFIG) \
		--data-dir .rescp-data

# connect-es, the real Connect client tests/http/test_connect.py runs (skipped without npm)
$(NODE_STAMP): $(CONNECT_ES)/package.json $(CONNECT_ES)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(CONNECT_ES) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the connect-es test is skipped (see .ci/run)"; fi

test: $(STAMP) $(NODE_STAMP) contract proto-check go-test node-test ## run the whole test suite (what CI runs)
	$(PY) scripts/unasync.py --check
	$(PY) -m pytest

contract: $(STAMP) ## check the protos against the wire contract (needs ../shared)
	@if [ -f $(SHARED)/tools/check_contract.py ]; then \
		$(PY) $(SHARED)/tools/check_contract.py protos; \
	else echo "contract: $(SHARED)/tools/check_contract.py not found, skipped"; fi

lint: $(STAMP) ## ruff, and buf lint on the protos when buf is installed
	$(VENV)/bin/ruff check rescp clients/python tests bench scripts
	$(MAKE) --no-print-directory $(TS_STAMP) && cd $(TS_DIR) && npx eslint .
	@if command -v buf >/dev/null; then cd protos && buf lint && echo "buf lint: ok"; \
	else echo "buf not installed; proto lint skipped (see .ci/run)"; fi

typecheck: $(STAMP) ## mypy --strict on rescp/ and clients/python/
	$(VENV)/bin/mypy
	$(MAKE) --no-print-directory $(TS_STAMP) && cd $(TS_DIR) && npx tsc --noEmit -p .

proto: $(STAMP) ## regenerate the Python stubs from protos/ (server and client copies)
	$(PY) scripts/gen_proto.py
	$(PY) scripts/unasync.py

proto-check: $(STAMP) ## fail when the committed stubs differ from protos/
	$(PY) scripts/gen_proto.py --check

go-proto: ## regenerate the Go client's stubs (clients/go/rescpv1) from protos/ (needs protoc)
	$(GO_DIR)/gen.sh

go-test: $(STAMP) ## the Go client: stub drift check, go vet, staticcheck, go test (real rescp serve)
	$(GO_DIR)/gen.sh --check
	cd $(GO_DIR) && go vet ./... && "$$(./tools.sh)/staticcheck" ./...
	cd $(GO_DIR) && RESCP_BIN="$(CURDIR)/$(VENV)/bin/rescp" go test -count=1 ./...

bench: $(STAMP) $(TS_STAMP) ## run the benchmarks; ratios first (see bench/README.md)
	cd $(TS_DIR) && npm run --silent build
	$(PY) -m bench

$(TS_STAMP): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(TS_STAMP)

node-proto: $(TS_STAMP) ## regenerate the TypeScript client's stubs (clients/node/src/gen; needs protoc)
	cd $(TS_DIR) && npm run --silent gen

node-test: $(STAMP) $(TS_STAMP) ## the TypeScript client: stub drift check, build, tests (real rescp serve)
	cd $(TS_DIR) && npm run --silent gen:check && npm run --silent build
	cd $(TS_DIR) && RESCP_BIN="$(CURDIR)/$(VENV)/bin/rescp" npm test --silent

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(CONNECT_ES)/node_modules \
		$(TS_DIR)/node_modules $(TS_DIR)/dist
	find . -name __pycache__ -prune -exec rm -rf {} +
