# The two commands: `make demo` and `make test`. Both install what is missing first.
GO ?= go
export GOFLAGS ?= -mod=mod

.PHONY: deps demo test vet build fuzz bench

deps:
	@bash scripts/deps.sh

build:
	$(GO) build -o bin/cardline ./cmd/cardline

demo: deps build
	./bin/cardline demo --out demo-out

vet:
	@test -z "$$(gofmt -l . | grep -v '^tools/')" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
