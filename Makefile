# The two commands: `make demo` and `make test`. Both install what is missing first.
GO ?= go

.PHONY: deps demo test vet build fuzz bench tools

deps:
	@bash scripts/deps.sh

build:
	$(GO) build -o bin/cardline ./cmd/cardline

demo: deps build tools
	rm -rf demo-out # the demo empties only folders it made; this one is the Makefile's
	./bin/cardline demo --out demo-out

vet:
	@test -z "$$(gofmt -l . | grep -v '^tools/')" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

# Test tools built from their own module (tools/go.mod), so the product's go.mod lists only what
# the product uses. Built once; rebuilt when the tools module changes.
tools: tools/bin/mailpit

tools/bin/mailpit: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o bin/mailpit github.com/axllent/mailpit

test: deps vet tools
	$(GO) test -race -count=1 -timeout 20m ./...
	# The exhaustive image comparisons, whose full set -race would take minutes over (printer/race_test.go).
	$(GO) test -count=1 -run 'TestPagesMatchFaces' ./printer

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
