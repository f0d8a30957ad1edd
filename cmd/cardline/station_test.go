package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/testsupport"
	"cardline/production"
)

func TestStationSpecs(t *testing.T) {
	s, err := parseStation("name=a,printer=ipp://p:631/ipp/print,reader=ACS ACR1252 00 00,types=construction+cleaning,max-attempts=5")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "a" || s.Reader != "ACS ACR1252 00 00" || len(s.CardTypes) != 2 || s.CardTypes[1] != "cleaning" ||
		s.MaxAttempts != 5 || s.Transport != "manual" {
		t.Errorf("parsed %+v", s)
	}
	if s, err := parseStation("name=v,printer=virtual,reader=virtual,types=transport"); err != nil || s.Transport != "virtual" {
		t.Errorf("virtual station: %+v, %v", s, err)
	}
	for _, bad := range []string{
		"name=a,printer=ipp://p/ipp/print,reader=r",                                  // no types
		"name=a,printer=ipp://p/ipp/print,reader=r,types=mining",                     // unknown type
		"name=a,printer=ipp://p/ipp/print,reader=r,types=cleaning,transport=virtual", // virtual transport, real reader
		"name=a b,printer=ipp://p/ipp/print,reader=r,types=cleaning",                 // space in the name
		"name=a,printer=ipp://p/ipp/print,reader=r,types=cleaning,colour=red",        // unknown key
	} {
		if _, err := parseStation(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The operator's station and stock commands against a real database.
func TestStationAndStockCommands(t *testing.T) {
	db := testsupport.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := runCLI(t, ctx, "migrate", "--database-url", db); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// A station as its worker leaves it when the printer stops answering.
	if _, err := pool.Exec(ctx, `INSERT INTO stations (name, printer_uri, reader, card_types, state, fault)
		VALUES ('a', 'ipp://printer-a/ipp/print', 'Virtual PCD 00 00', '{construction}', 'parked', 'printer offline')`); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, ctx, "station", "list", "--database-url", db)
	if err != nil || !strings.Contains(out, "parked") || !strings.Contains(out, "printer offline") || !strings.Contains(out, "cardline station clear a") {
		t.Fatalf("station list: %v\n%s", err, out)
	}
	if out, err := runCLI(t, ctx, "station", "clear", "--database-url", db, "a"); err != nil || !strings.Contains(out, "station a cleared") {
		t.Fatalf("station clear: %v\n%s", err, out)
	}
	if _, err := runCLI(t, ctx, "station", "clear", "--database-url", db, "a"); err == nil || !strings.Contains(err.Error(), "not parked") {
		t.Errorf("clearing an idle station: %v", err)
	}
	if out, err := runCLI(t, ctx, "station", "list", "--database-url", db); err != nil || !strings.Contains(out, "idle") {
		t.Errorf("station list after clear: %v\n%s", err, out)
	}
	if out, err := runCLI(t, ctx, "station", "held", "--database-url", db); err != nil || !strings.Contains(out, "no card is held") {
		t.Errorf("station held: %v\n%s", err, out)
	}
	if _, err := runCLI(t, ctx, "station", "release", "1000000016", "--reason", "looked", "--database-url", db); err == nil ||
		!strings.Contains(err.Error(), "no such card") {
		t.Errorf("releasing an unknown card: %v", err)
	}
	if _, err := runCLI(t, ctx, "station", "release", "--database-url", db, "--reason", "looked", "1000000017"); err == nil ||
		!strings.Contains(err.Error(), "check digit") {
		t.Errorf("releasing a mistyped card number: %v", err)
	}

	if out, err := runCLI(t, ctx, "stock", "load", "a", "construction", "10", "--by", "kari", "--database-url", db); err != nil {
		t.Fatalf("stock load: %v\n%s", err, out)
	}
	if out, err := runCLI(t, ctx, "stock", "count", "--database-url", db, "a", "construction", "10"); err != nil {
		t.Fatalf("stock count that agrees: %v\n%s", err, out)
	}
	out, err = runCLI(t, ctx, "stock", "count", "--database-url", db, "a", "construction", "9")
	if err == nil || !strings.Contains(err.Error(), "-1 blanks") {
		t.Errorf("stock count one short: %v\n%s", err, out)
	}
	out, err = runCLI(t, ctx, "stock", "show", "--database-url", db)
	if err != nil || !strings.Contains(out, "construction") || !strings.Contains(out, "-1") {
		t.Errorf("stock show: %v\n%s", err, out)
	}
	if _, err := runCLI(t, ctx, "stock", "load", "--database-url", db, "a", "construction", "lots"); err == nil {
		t.Error("stock load of a non-number succeeded")
	}

	if out, err := runCLI(t, ctx, "station", "retire", "--database-url", db, "a"); err != nil || !strings.Contains(out, "station a retired") {
		t.Fatalf("station retire: %v\n%s", err, out)
	}
	if out, err := runCLI(t, ctx, "station", "list", "--database-url", db); err != nil || strings.Contains(out, "printer-a") {
		t.Errorf("station list after retiring a: %v\n%s", err, out)
	}
}

// envServeStationsDB makes this test binary, run again as a child, serve with a virtual station:
// the virtual station's pcscd must be the first PC/SC use of its process, which a test binary
// whose other tests share a pcscd cannot promise.
const envServeStationsDB = "CARDLINE_TEST_SERVE_STATIONS_DB"

func TestServeStationsProcess(t *testing.T) {
	db := os.Getenv(envServeStationsDB)
	if db == "" {
		t.Skip("runs only as the child of TestServeRunsStations")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	out, err := runCLI(t, ctx, "serve", "--database-url", db, "--holder-key", strings.Repeat("ab", 32),
		"--qr-signing-key", strings.Repeat("cd", 32), "--smtp-addr", "127.0.0.1:1", "--http-addr", "",
		"--station", "name=v1,printer=virtual,reader=virtual,types=construction+cleaning+transport")
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, out)
	}
}

// serve with --station runs a station worker: an order submitted, planned and started comes out
// produced through the virtual printer and reader, and the station lists its cards.
func TestServeRunsStations(t *testing.T) {
	testsupport.Need(t, "ippeveprinter", "/usr/sbin")
	testsupport.Need(t, "pcscd", "/usr/sbin")
	db := testsupport.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if out, err := runCLI(t, ctx, "migrate", "--database-url", db); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeStationsProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envServeStationsDB+"="+db)
	var childOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("serve child: %v\n%s", err, childOut.String())
		}
	}()

	m := production.NewSamples(5).Order(2, time.Now().Add(-time.Hour))
	f := filepath.Join(t.TempDir(), "order.json")
	b, _ := json.Marshal(m)
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, ctx, "submit", "--database-url", db, f); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	waitCount := func(want int, query string) {
		t.Helper()
		for {
			var n int
			if err := pool.QueryRow(ctx, query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == want {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: %d, want %d\nserve:\n%s", query, n, want, childOut.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitCount(2, `SELECT count(*) FROM cards WHERE state = 'queued'`)
	if out, err := runCLI(t, ctx, "batch", "plan", "--database-url", db); err != nil {
		t.Fatalf("batch plan: %v\n%s", err, out)
	}
	var batch int64
	if err := pool.QueryRow(ctx, `SELECT batch_id FROM print_batches`).Scan(&batch); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, ctx, "batch", "start", "--database-url", db, strconv.FormatInt(batch, 10)); err != nil {
		t.Fatalf("batch start: %v\n%s", err, out)
	}
	waitCount(2, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	waitCount(1, `SELECT count(*) FROM orders WHERE state = 'produced'`)
	out, err := runCLI(t, ctx, "station", "list", "--database-url", db)
	if err != nil || !strings.Contains(out, "v1") || !strings.Contains(out, "Virtual PCD 00 00") {
		t.Errorf("station list: %v\n%s", err, out)
	}
}
