# backupd — see README.md.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
GO      ?= go

.PHONY: all build run test vet fmt-check bench bench-tools fuzz man clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/backupd ./cmd/backupd
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/backupctl ./cmd/backupctl

# Runs the daemon with its embedded defaults: 127.0.0.1:8080, data in
# ./backupd-data, one source named "catalog".
run: build
	./bin/backupd serve

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test: vet fmt-check
	$(GO) test -race -count=1 -timeout 20m ./...

# Benchmarks print figures and ratios against baselines measured in the same
# run; see docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/

# restic, the peer the repository benchmarks compare with, kept out of
# go.mod; the benchmarks find it in PATH or $(go env GOPATH)/bin.
bench-tools:
	GOFLAGS=-buildvcs=false $(GO) install github.com/restic/restic/cmd/restic@v0.18.1

# Man pages of every backupd and backupctl command, from their cobra
# trees, into build/man (man -l build/man/backupctl-run.1).
man:
	rm -rf build/man
	$(GO) run ./cmd/backupd man build/man
	$(GO) run ./cmd/backupctl man build/man

clean:
	rm -rf bin build/man
