# fleetedge — the two commands that matter are `make run` and `make test`.
# Both install what they need (Debian packages, Go modules) when it is missing.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export GOTOOLCHAIN := local
GO ?= go
# Short fuzz run per target inside `make test`; `make fuzz` runs longer.
FUZZTIME_SHORT ?= 4s
FUZZTIME ?= 2m
APT := apt-get -o DPkg::Lock::Timeout=120

.PHONY: all deps go-deps build vet modules-alone test test-go test-fault-long test-servers-stop fuzz-short fuzz bench bench-protocol bench-geo bench-zone bench-clickhouse bench-postgres bench-nats bench-outbox bench-command bench-rules bench-edge-ingest bench-link bench-fare bench-ridetrack bench-ledger bench-citycfg bench-export bench-fieldui bench-rides bench-edge lint fmt run stop clean

all: build

# go-deps downloads every module of the workspace (no-op when cached).
go-deps:
	@command -v $(GO) >/dev/null || { echo "Go is missing: install Go >= 1.26 at /usr/local/go" >&2; exit 1; }
	@for m in protocol shared edge cloud tools; do (cd $$m && $(GO) mod download) || exit 1; done

# deps: Go modules, the Debian packages the integration tests need (PostgreSQL, ClickHouse),
# and Debian's chromium + npm playwright-core for the field UI's browser test.
deps: go-deps
	deploy/local/postgres.sh install
	deploy/local/clickhouse.sh install
	edge/internal/fieldui/e2e/setup.sh
	cloud/internal/adminapi/tsclient/setup.sh

build: go-deps
	$(GO) build work

vet: go-deps
	$(GO) vet work

# Each module must also build on its own (sibling modules through require v0.0.0 + replace).
modules-alone: go-deps
	@set -e; for m in protocol shared edge cloud tools; do echo "GOWORK=off go build ($$m)"; \
	  (cd $$m && GOWORK=off $(GO) build ./...); done

# The tests run their own PostgreSQL and ClickHouse under .data/test/, apart from the
# servers of `make run`, on ports derived from the checkout's path: two checkouts (or CI
# beside a developer's stack) never share or fight over a server. Ports stay below the
# ephemeral range (32768-60999) so an outgoing connection cannot hold them.
TEST_PORT_OFFSET := $(shell printf '%s' '$(CURDIR)' | cksum | awk '{print $$1 % 2000}')
TEST_ENV := FLEETEDGE_PG_DIR=$(CURDIR)/.data/test/postgres \
	FLEETEDGE_PG_PORT=$(shell echo $$((20000 + $(TEST_PORT_OFFSET)))) \
	FLEETEDGE_CH_DIR=$(CURDIR)/.data/test/clickhouse \
	FLEETEDGE_CH_TCP_PORT=$(shell echo $$((24000 + $(TEST_PORT_OFFSET)))) \
	FLEETEDGE_CH_HTTP_PORT=$(shell echo $$((28000 + $(TEST_PORT_OFFSET)))) \
	FLEETEDGE_REQUIRE_NODE=1

# test: vet, every test with the race detector, then a short fuzz run per decoder; the
# test servers are stopped at the end whatever the outcome.
test: deps vet modules-alone
	@status=0; $(MAKE) --no-print-directory test-go fuzz-short || status=$$?; \
	  $(MAKE) --no-print-directory test-servers-stop; exit $$status

test-go:
	$(TEST_ENV) $(GO) test -race -count=1 -timeout 40m work

# test-fault-long: the edge↔cloud fault tests with the brief's outages (cloud/NATS down 2 min
# under 1,000 simulated scooters, ClickHouse down 1 min); `make test` runs them with 20 s / 15 s.
test-fault-long:
	$(TEST_ENV) $(GO) test -count=1 -timeout 30m -v ./tools/faulttest/ -long

test-servers-stop:
	-$(TEST_ENV) deploy/local/postgres.sh stop
	-$(TEST_ENV) deploy/local/clickhouse.sh stop

# Each fuzz target listed as package:FuzzName; `go test -fuzz` takes one target per run.
FUZZ_TARGETS := $(shell cat fuzz-targets.txt 2>/dev/null)

fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME_SHORT))"; \
	  $(TEST_ENV) $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME_SHORT) $$pkg; done

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done

# bench: every Go benchmark that backs a figure in BENCHMARKS.md (the machine is shared:
# compare ratios measured in one run, not absolute numbers across runs).
bench: bench-protocol bench-geo bench-zone bench-clickhouse bench-postgres bench-nats bench-outbox bench-command bench-rules bench-edge-ingest bench-link bench-fare bench-ridetrack bench-ledger bench-citycfg bench-export bench-fieldui bench-rides

bench-protocol:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./protocol/

bench-geo:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./shared/geo/

bench-clickhouse:
	$(GO) test -run '^$$' -bench InsertTelemetry -benchtime 20x -count 3 ./cloud/internal/chstore/

bench-zone:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./shared/zone/

bench-postgres:
	$(GO) test -run '^$$' -bench EndRide -benchtime 2000x -count 3 ./cloud/internal/pgstore/

bench-nats:
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 3 ./cloud/internal/natsbus/

bench-outbox:
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 2 ./edge/internal/outbox/

bench-command:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./edge/internal/command/

bench-rules:
	$(GO) test -run '^$$' -bench OnFix -benchmem -count 5 ./edge/internal/rules/

bench-link:
	$(GO) test -run '^$$' -bench Drain -benchtime 200000x -count 3 ./edge/internal/uplink/
	$(GO) test -run '^$$' -bench EncodeTelemetry -count 3 ./edge/internal/uplink/
	$(TEST_ENV) $(GO) test -run '^$$' -bench 'Ingest$$|EndToEnd' -benchtime 300000x -count 3 ./cloud/internal/ingest/
	$(TEST_ENV) $(GO) test -run '^$$' -bench DecodeTelemetry -count 3 ./cloud/internal/ingest/
	$(GO) test -run '^$$' -bench BenchmarkCommandRoundTrip -benchtime 5000x -count 3 ./edge/internal/cloudlink/
	$(GO) test -run '^$$' -bench BenchmarkSendCommand -benchtime 5000x -count 3 ./cloud/internal/downlink/

bench-fare:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./cloud/internal/fare/

bench-ridetrack:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./edge/internal/ridetrack/

bench-ledger:
	$(TEST_ENV) $(GO) test -run '^$$' -bench PostCommitted -benchtime 3s ./cloud/internal/ledger/

bench-citycfg:
	$(TEST_ENV) $(GO) test -run '^$$' -bench . -benchtime 3s ./cloud/internal/citycfg/

bench-export:
	$(TEST_ENV) $(GO) test -run '^$$' -bench BenchmarkExportRides -benchtime 3x -count 2 ./cloud/internal/exports/

bench-fieldui:
	$(GO) test -run '^$$' -bench BenchmarkCheck -benchtime 20x ./edge/internal/fieldui/

bench-rides:
	$(TEST_ENV) $(GO) test -run '^$$' -bench 'Nearby' -benchtime 3s ./cloud/internal/rides/
	$(TEST_ENV) $(GO) test -run '^$$' -bench UnlockRoundTrip -benchtime 300x ./cloud/internal/rides/

# bench-edge: the gateway under a simulated fleet (15,000 scooters over 4 simulator processes,
# 500 zones, restart storms, durable-ingest flood); ~4 min, results in .data/bench/. Not part of
# `make bench`. A small validation run: make bench-edge BENCH_EDGE_N=1000 BENCH_EDGE_PROCS=2
BENCH_EDGE_N ?= 15000
BENCH_EDGE_PROCS ?= 4
BENCH_EDGE_WINDOW ?= 60s
BENCH_EDGE_FLAGS ?= --restart term,kill --flood --perf 20s
bench-edge: go-deps
	$(GO) build -o bin/ ./edge/cmd/gateway ./tools/cmd/scooter-sim ./tools/cmd/edge-bench
	bin/edge-bench --n $(BENCH_EDGE_N) --procs $(BENCH_EDGE_PROCS) --window $(BENCH_EDGE_WINDOW) $(BENCH_EDGE_FLAGS)

bench-edge-ingest:
	$(GO) test -run '^$$' -bench BenchmarkIngest -benchtime 3s -count 3 ./edge/internal/broker/
	$(GO) test -run '^$$' -bench GatewayIngestMQTT -benchtime 50000x -count 2 ./edge/internal/gateway/
	$(GO) test -run '^$$' -bench Apply -benchmem -count 3 ./edge/internal/fleet/

lint: vet
	@out=$$(gofmt -l protocol shared edge cloud tools); if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w protocol shared edge cloud tools

# run: the whole system on this machine (deploy/local/run.sh says what it starts and its knobs).
run: deps
	deploy/local/run.sh

# stop: the local database servers of `make run` (when left running with FLEETEDGE_RUN_KEEP_SERVERS=1).
stop:
	-deploy/local/clickhouse.sh stop
	-deploy/local/postgres.sh stop

clean:
	rm -rf bin
