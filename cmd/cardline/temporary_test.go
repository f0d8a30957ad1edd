package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cardline/internal/mailpit"
	"cardline/internal/testsupport"
	"cardline/production"
	"cardline/temporary"
)

// runTemporary runs `cardline temporary …`.
func runTemporary(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	return runCLI(t, ctx, append([]string{"temporary"}, args...)...)
}

// The operator's path: an order is accepted, its orderer lost the mail, the operator resends it and
// waits for it, and the outbox shows who asked and that it went.
func TestTemporaryResend(t *testing.T) {
	db := testsupport.Postgres(t)
	if _, err := mailpit.Find(); err != nil {
		testsupport.Missing(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, sub := range []string{"list", "resend"} {
		if out, err := runTemporary(t, ctx, sub, "--help"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "usage: cardline temporary "+sub) {
			t.Errorf("%s --help: %v\n%s", sub, err, out)
		}
	}

	cfg := config{databaseURL: db, holderKey: strings.Repeat("ab", 32), pollInterval: 10 * time.Millisecond, batchSize: 50}
	svc, err := openService(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.close()
	m, mp, err := demoMail(ctx, svc, "https://status.hms.example/k", ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Stop()
	svc.mailer = m
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- svc.run(serveCtx) }()

	order := production.NewSamples(5).Order(2, time.Now().Add(-time.Hour))
	b, _ := json.Marshal(order)
	f := filepath.Join(t.TempDir(), "order.json")
	os.WriteFile(f, b, 0o644)
	if out, err := runCLI(t, ctx, "submit", "--database-url", db, f); err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	for {
		out, _ := runCLI(t, ctx, "orders", "--database-url", db)
		if strings.Contains(out, order.OrderID+"  accepted") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("order never accepted:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if _, err := runTemporary(t, ctx, "resend", "--database-url", db, "A-2026-0000000"); err == nil {
		t.Error("resend of an unknown order succeeded")
	}
	out, err := runTemporary(t, ctx, "resend", "--database-url", db, "--by", "kari", "--reason", "mail lost", "--wait", "30s", order.OrderID)
	if err != nil || !strings.Contains(out, "recorded as job") || !strings.Contains(out, "sent ") {
		t.Fatalf("resend: %v\n%s", err, out)
	}
	out, err = runTemporary(t, ctx, "list", "--database-url", db, "--order", order.OrderID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var j temporary.Job
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &j); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if j.Kind != temporary.KindResend || j.State != temporary.JobSent || j.RequestedBy != "kari" || j.Reason != "mail lost" || len(j.Cards) != 2 {
		t.Errorf("resend job: %+v", j)
	}
	msgs, err := mp.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range msgs {
		found = found || (s.MessageID == j.MessageID && s.Attachments == 2)
	}
	if !found {
		t.Errorf("resent mail %s not in Mailpit: %+v", j.MessageID, msgs)
	}
	if out, err := runTemporary(t, ctx, "list", "--database-url", db); err != nil || !strings.Contains(out, order.OrderID) || !strings.Contains(out, "resend") {
		t.Errorf("list: %v\n%s", err, out)
	}
	stop()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve: %v", err)
	}

	// The mail sent on acceptance and the resend.
	out = t.TempDir()
	if n, err := saveMails(ctx, mp, out); err != nil || n != 2 {
		t.Fatalf("saved %d mails, want 2: %v", n, err)
	}
	saved, _ := filepath.Glob(filepath.Join(out, "001-"+order.OrderID, "*"))
	if len(saved) != 3 {
		t.Errorf("saved files %v, want mail.txt and two PDFs", saved)
	}
}
