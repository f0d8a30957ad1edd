package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/testsupport"
)

// The operator's batch commands against a real database: plan, list, start, pause, resume, a
// refused close, a forced close that returns the queued cards, and a re-plan that takes them.
func TestBatchCommands(t *testing.T) {
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
	// Two construction orders (3 and 2 cards) and one cleaning order, straight into the tables.
	for i, o := range []struct {
		typ string
		due string
		n   int
	}{{"construction", "2026-11-27", 3}, {"construction", "2026-11-25", 2}, {"cleaning", "2026-11-26", 1}} {
		id := fmt.Sprintf("A-2026-000000%d", i+1)
		if _, err := pool.Exec(ctx, `INSERT INTO orders (order_id, payload_sha256, message_uuid, state, card_type, org_number, dispatch_by)
			VALUES ($1, '\x00', $1, 'accepted', $2, '923609016', $3)`, id, o.typ, o.due); err != nil {
			t.Fatal(err)
		}
		for p := range o.n {
			if _, err := pool.Exec(ctx, `INSERT INTO cards (card_number, order_id, position, holder_key, given_name, family_name,
				birth_date, gender, org_number, card_type, state) VALUES ($1, $2, $3, $1, 'Kari', 'Nordmann', '1990-01-01', 'F',
				'923609016', $4, 'queued')`, fmt.Sprintf("10%d%d", i, p), id, p, o.typ); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, ctx, append(append([]string{"batch"}, args...), "--database-url", db)...)
		if err != nil {
			t.Fatalf("batch %v: %v\n%s", args, err, out)
		}
		return out
	}
	out := run("plan", "--print-batch-size", "4", "--by", "operator:test")
	if !strings.Contains(out, "new batches 3, planned batches topped up 0") {
		t.Fatalf("plan:\n%s", out)
	}
	if out := run("plan"); !strings.Contains(out, "nothing to plan") {
		t.Errorf("second plan:\n%s", out)
	}
	out = run("list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[1], "2 queued") || !strings.Contains(lines[3], "3 queued") {
		t.Fatalf("list: want the batch due 25 Nov first (batch 1, 2 cards), the 3-card batch last:\n%s", out)
	}
	if out := run("start", "1"); !strings.Contains(out, "batch 1 (construction): started") {
		t.Errorf("start:\n%s", out)
	}
	run("pause", "1", "--reason", "jam")
	run("resume", "1")
	if out, err := runCLI(t, ctx, "batch", "close", "1", "--database-url", db); err == nil || !strings.Contains(err.Error(), "2 queued") {
		t.Errorf("close with queued cards: %v\n%s", err, out)
	}
	if out := run("close", "1", "--force"); !strings.Contains(out, "2 queued cards returned to the pool (the next plan batches them): 1010, 1011") ||
		!strings.Contains(out, "closed") {
		t.Errorf("forced close:\n%s", out)
	}
	if out := run("plan"); !strings.Contains(out, "planned 2 cards: new batches 1, planned batches topped up 0") {
		t.Errorf("plan after a forced close:\n%s", out)
	}
	if out, err := runCLI(t, ctx, "batch", "resume", "2", "--database-url", db); err == nil || !strings.Contains(err.Error(), "not paused") {
		t.Errorf("resume of a planned batch: %v\n%s", err, out)
	}
	if out := run("list", "--all"); !strings.Contains(out, "closed") {
		t.Errorf("list --all does not show the closed batch:\n%s", out)
	}
}
