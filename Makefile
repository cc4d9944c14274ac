# Tenantry — `make run` and `make test` set up everything they need on a fresh Debian
# machine (root, package registries only) and skip what is already there.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/tenantry-target
CARGO_HOME ?= $(HOME)/.cargo
export PATH := $(CURDIR)/node_modules/.bin:$(CARGO_HOME)/bin:$(PATH)
# Queries are checked at compile time against the committed .sqlx/ data.
export SQLX_OFFLINE ?= true
# No incremental compilation data: a clean clone (CI) gains nothing from it, and each
# checkout path would otherwise leave gigabytes of it in the shared target directory.
export CARGO_INCREMENTAL ?= 0

BIN := $(CARGO_TARGET_DIR)/release/tenantry
SITE := target/site

.PHONY: deps build run test test-rust test-busy e2e bench fuzz fmt lint sqlx-prepare clean-data help

help:
	@echo "make run    - install what is missing, build, and serve the console on http://127.0.0.1:3000"
	@echo "make test   - install what is missing and run every test (Rust and Playwright)"
	@echo "make build  - release binary and console site"
	@echo "make e2e    - Playwright tests against a release build"
	@echo "make test-busy - make test RUNS times (default 3) with both cores kept busy"
	@echo "make bench  - load benchmark against a running release build"
	@echo "make fuzz   - fuzz the policy rule compiler and decision engine (FUZZ_SECONDS, default 120; nightly)"
	@echo "make fmt / make lint"

deps:
	@bash scripts/install-system.sh
	@bash scripts/install-tools.sh

build: deps
	cargo leptos build --release

run: build
	$(BIN) serve

test: deps test-rust e2e

# One build of the three crates' tests: the console's (app) with the features the server
# gives it, so its dependencies are not compiled a second time with others.
test-rust:
	cargo test -p service -p server -p app --features app/ssr --no-fail-fast

# Flakiness under load: `make test` RUNS times while two busy loops hold both cores.
RUNS ?= 3
test-busy:
	RUNS=$(RUNS) bash scripts/test-busy.sh

e2e: build
	cd end2end && E2E_PORT=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') \
		TENANTRY_BIN=$(BIN) npx playwright test

bench: build
	cargo bench -p bench
	bash scripts/bench.sh

# Not part of `make test`: coverage-guided fuzzing for a bounded time. New inputs go to
# server/service/fuzz/corpus/ (ignored by git); the committed seeds are read, never written.
FUZZ_SECONDS ?= 120
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	@rustup toolchain list | grep -q '^nightly' || { echo "make fuzz needs a nightly toolchain (rustup toolchain install nightly)"; exit 1; }
	cd server/service/fuzz && mkdir -p corpus/policy_rules && \
		CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)/fuzz cargo +nightly fuzz run policy_rules \
		corpus/policy_rules seeds/policy_rules -- -max_total_time=$(FUZZ_SECONDS)

fmt:
	cargo fmt --all

lint: deps
	cargo fmt --all -- --check
	cargo clippy -p service -p server -p bench --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
	TENANTRY_NEED_SQLX_CLI=1 bash scripts/install-tools.sh
	bash scripts/sqlx-prepare.sh --check

# Regenerates .sqlx/ (the offline query data) against a throwaway migrated database.
sqlx-prepare:
	TENANTRY_NEED_SQLX_CLI=1 bash scripts/install-tools.sh
	bash scripts/sqlx-prepare.sh

clean-data:
	rm -rf .tenantry
