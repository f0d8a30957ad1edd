package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/testsupport"
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

	if out, err := runCLI(t, ctx, "stock", "load", "--database-url", db, "a", "construction", "10"); err != nil {
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
}
