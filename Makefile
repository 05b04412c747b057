# The two commands: `make run` and `make test`. Both start what they need.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test e2e deps check fmt clippy schema-check release docker cluster cluster-sharded cluster-down redis-cluster redis-cluster-down demo bench bench-scaleout faults

## Start PostgreSQL + PostGIS and Redis (installing them if missing), then serve on :8080.
run: deps
	KILAT_ENVIRONMENT=local $(CARGO) run --bin kilat -- serve

## Every check: formatting, clippy with -D warnings, schema drift, and all tests
## (unit tests, the API suite, then the tools' own tests).
test: deps check
	@mkdir -p target
	@set -o pipefail; { $(CARGO) test --lib --bins --test api && $(CARGO) test -p kilat-tools; } 2>&1 | tee target/test-output.log; status=$$?; \
	passed=$$(grep -Eo '[0-9]+ passed' target/test-output.log | awk '{s+=$$1} END {print s+0}'); \
	failed=$$(grep -Eo '[0-9]+ failed' target/test-output.log | awk '{s+=$$1} END {print s+0}'); \
	echo "$$passed passed, $$failed failed"; exit $$status

## The operator console in a real browser (chromium + playwright-core, installed when missing).
e2e:
	bash scripts/e2e.sh

## Services only (idempotent).
deps:
	bash scripts/deps.sh

check: fmt clippy schema-check

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## src/db/schema.rs must match what the migrations produce.
schema-check:
	bash scripts/schema-check.sh

release:
	$(CARGO) build --release --bin kilat

## Two release nodes (:8081, :8082) behind nginx (:8080), no Docker; `make cluster-down` stops them.
cluster:
	bash scripts/cluster.sh up

## Three release nodes behind nginx on the local 3-master Redis Cluster (sharded pub/sub).
cluster-sharded:
	CLUSTER_NODES=3 CLUSTER_REDIS=cluster bash scripts/cluster.sh up

cluster-down:
	bash scripts/cluster.sh down

## A local 3-master Redis Cluster (:7101-:7103) from the OS package, checked with a sharded
## message; REDIS_CLUSTER_FLAGS=--replicas adds a replica each (:7104-:7106).
redis-cluster:
	bash scripts/redis-cluster.sh up $(REDIS_CLUSTER_FLAGS) && bash scripts/redis-cluster.sh check

redis-cluster-down:
	bash scripts/redis-cluster.sh down

## Every benchmark (Redis bound, fan-out vs the Bun peer, idle sockets, dispatch); see BENCHMARKS.md.
bench:
	bash scripts/bench.sh

## Fan-out on three nodes: one Redis against a 3-master Redis Cluster, alternately (also the end of make bench).
bench-scaleout:
	bash scripts/bench_scaleout.sh

## Events under faults: trips watched over /ws while a node is killed, Redis and
## PostgreSQL restart and a node drains (restarts this machine's Redis and PostgreSQL).
faults:
	bash scripts/faults.sh

## A live city: the cluster, then `kilat simulate` through the load balancer.
DEMO_FLAGS ?= --runners 40 --owners 10 --duration 30 --bookings-per-sec 1 --ping-hz 2
## Watch it at http://127.0.0.1:8080/console (ops@kilat.local / kilat-ops-demo).
demo: cluster
	$(CARGO) build --release -p kilat-tools --bin kilat-simulate
	KILAT_ENVIRONMENT=local target/release/kilat admin create --email ops@kilat.local --password kilat-ops-demo \
		--full-name Ops >/dev/null 2>&1 || true
	@echo "console: http://127.0.0.1:8080/console  (ops@kilat.local / kilat-ops-demo)"
	target/release/kilat simulate --url http://127.0.0.1:8080 $(DEMO_FLAGS)

docker:
	docker build -t kilat:latest .
