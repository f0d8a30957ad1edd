package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"cardline/internal/testsupport"
	"cardline/printer"
	"cardline/production"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

func runCLI(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := dispatch(ctx, a, "cardline", commands(), args)
	return out.String(), err
}

// The operator's path through the binary: migrate, serve, submit a good and a bad order from
// files, list the orders with their reasons.
func TestServeSubmitOrders(t *testing.T) {
	db := testsupport.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := runCLI(t, ctx, "migrate", "--database-url", db); err != nil || !strings.Contains(out, "applied migration 001") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := runCLI(t, ctx, "serve", "--database-url", db); err == nil || !strings.Contains(err.Error(), "CARDLINE_HOLDER_KEY") {
		t.Fatalf("serve without a holder key: %v\n%s", err, out)
	}

	dir := t.TempDir()
	s := production.NewSamples(11)
	good := s.Order(2, time.Now().Add(-time.Hour))
	bad := s.Order(1, time.Now().Add(-time.Hour))
	bad.DeliveryAddress.PostalCode = "01555"
	var files []string
	for _, m := range []*production.OrderApproved{good, bad} {
		b, _ := json.Marshal(m)
		f := filepath.Join(dir, m.OrderID+".json")
		os.WriteFile(f, b, 0o644)
		files = append(files, f)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		_, err := runCLI(t, serveCtx, "serve", "--database-url", db, "--holder-key", strings.Repeat("ab", 32),
			"--qr-signing-key", strings.Repeat("cd", 32), "--smtp-addr", "127.0.0.1:1")
		served <- err
	}()
	out, err := runCLI(t, ctx, append([]string{"submit", "--database-url", db}, files...)...)
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	for {
		out, err = runCLI(t, ctx, "orders", "--database-url", db)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, good.OrderID) && strings.Contains(out, bad.OrderID) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("orders never appeared:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve: %v", err)
	}
	for _, want := range []string{good.OrderID + "  accepted", bad.OrderID + "  rejected", "delivery_address.postal_code: must be a 4-digit Norwegian postal code"} {
		if !strings.Contains(out, want) {
			t.Errorf("orders output lacks %q:\n%s", want, out)
		}
	}

	// An operator previews a stored card: its back carries the signed status QR of that very card.
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var number string
	if err := pool.QueryRow(ctx, `SELECT card_number FROM cards WHERE order_id = $1 ORDER BY position LIMIT 1`, good.OrderID).Scan(&number); err != nil {
		t.Fatal(err)
	}
	front := filepath.Join(dir, "front.png")
	if out, err := runCLI(t, ctx, "card", "preview", "--database-url", db, "--dev-key", "-o", front, number); err != nil {
		t.Fatalf("card preview: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "back.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(back)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR on the previewed back: %v", err)
	}
	got, _, err := printer.VerifyStatusURL(printer.DevSigningKey().Public().(ed25519.PublicKey), res.GetText())
	if err != nil || got != number {
		t.Errorf("QR says card %q (%v), want %s", got, err, number)
	}
	if _, err := runCLI(t, ctx, "card", "preview", "--database-url", db, "--dev-key", "1000000010"); err == nil {
		t.Error("preview of a mistyped card number succeeded")
	}
}

// Every command has help, and no help shows a secret taken from the environment: usage goes to
// terminals and journals on every mistyped flag.
func TestEveryCommandHasHelp(t *testing.T) {
	secrets := map[string]string{"DATABASE_URL": "postgres://cardline:hunter2-secret@db.example/cardline",
		"CARDLINE_HOLDER_KEY": strings.Repeat("feed", 16), "CARDLINE_QR_SIGNING_KEY": strings.Repeat("c0ffee11", 8)}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	var walk func(prefix []string, cmds []command)
	walk = func(prefix []string, cmds []command) {
		for _, c := range cmds {
			args := append(append([]string{}, prefix...), c.name)
			if len(c.subs) > 0 {
				walk(args, c.subs)
				continue
			}
			out, err := runCLI(t, context.Background(), append(args, "--help")...)
			if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "usage: cardline "+strings.Join(args, " ")) {
				t.Errorf("%v --help: %v\n%s", args, err, out)
			}
			for _, secret := range []string{"hunter2-secret", secrets["CARDLINE_HOLDER_KEY"], secrets["CARDLINE_QR_SIGNING_KEY"]} {
				if strings.Contains(out, secret) {
					t.Errorf("%v --help shows a secret from the environment:\n%s", args, out)
				}
			}
		}
	}
	walk(nil, commands())
}

func TestLogsAreJSONLines(t *testing.T) {
	var buf bytes.Buffer
	newLogger(&buf, "").Info("card produced", "card", "1000000016", "station", "s1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["card"] != "1000000016" || line["station"] != "s1" || line["msg"] != "card produced" {
		t.Errorf("log line %q: %v", buf.String(), err)
	}
	buf.Reset()
	newLogger(&buf, "text").Info("x")
	if json.Valid(buf.Bytes()) {
		t.Errorf("text format wrote JSON: %q", buf.String())
	}
}

// The demo and the fault run empty their output folder only when it is new, empty or an earlier
// run's: --out . must not wipe a repository.
func TestFreshOutDirSparesForeignFolders(t *testing.T) {
	foreign := t.TempDir()
	precious := filepath.Join(foreign, "go.mod")
	if err := os.WriteFile(precious, []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := freshOutDir(foreign); err == nil || !strings.Contains(err.Error(), "no earlier run made") {
		t.Errorf("a folder of other files: %v", err)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("a foreign file went: %v", err)
	}
	out := filepath.Join(t.TempDir(), "out")
	for range 2 { // new, then an earlier run's with its leftovers
		if err := freshOutDir(out); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "summary.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 2 {
		t.Errorf("an earlier run's folder holds %d entries after the second run's start and summary, want 2", len(entries))
	}
}

// A bad value in the environment is an error naming the variable, not a silent default.
func TestBadEnvironmentIsNamed(t *testing.T) {
	t.Setenv("CARDLINE_PRINT_BATCH_SIZE", "fifty")
	t.Setenv("CARDLINE_PLAN_EVERY", "5")
	t.Setenv("CARDLINE_STATION_CAPACITY", "abc")
	var c clockConfig
	c.flags(flag.NewFlagSet("serve", flag.ContinueOnError))
	err := checkBatchSize(*c.batchSize, c.envErrs)
	for _, name := range []string{"CARDLINE_PRINT_BATCH_SIZE", "CARDLINE_PLAN_EVERY", "CARDLINE_STATION_CAPACITY"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("serve's configuration: %v, want %s named", err, name)
		}
	}
	if _, err := runCLI(t, context.Background(), "batch", "plan"); err == nil || !strings.Contains(err.Error(), "CARDLINE_PRINT_BATCH_SIZE") {
		t.Errorf("batch plan with a bad batch size in the environment: %v", err)
	}
	t.Setenv("CARDLINE_PRINT_BATCH_SIZE", "")
	if _, err := runCLI(t, context.Background(), "batch", "plan", "--print-batch-size", "0"); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("batch plan --print-batch-size 0: %v", err)
	}
}
