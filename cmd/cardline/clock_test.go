package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/testsupport"
)

// serve runs the clock: queued cards are planned into batches on the planning interval, and
// /metrics and /healthz answer on --http-addr with the line's state.
func TestServeClockAndMetrics(t *testing.T) {
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
	if _, err := pool.Exec(ctx, `INSERT INTO orders (order_id, payload_sha256, message_uuid, state, card_type, org_number, dispatch_by)
		VALUES ('A-2026-0000001', '\x00', 'm', 'accepted', 'cleaning', '923609016', now()::date + 3)`); err != nil {
		t.Fatal(err)
	}
	for p := range 3 {
		if _, err := pool.Exec(ctx, `INSERT INTO cards (card_number, order_id, position, holder_key, given_name, family_name,
			birth_date, gender, org_number, card_type, state) VALUES ($1, 'A-2026-0000001', $2, $1, 'Kari', 'Nordmann', '1990-01-01', 'F',
			'923609016', 'cleaning', 'queued')`, fmt.Sprintf("10%d", p), p); err != nil {
			t.Fatal(err)
		}
	}
	port, err := testsupport.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		_, err := runCLI(t, serveCtx, "serve", "--database-url", db, "--holder-key", strings.Repeat("ab", 32),
			"--qr-signing-key", strings.Repeat("cd", 32), "--smtp-addr", "127.0.0.1:1", "--http-addr", addr,
			"--plan-every", "100ms", "--sla-every", "100ms", "--print-batch-size", "2")
		served <- err
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var metrics string
	for {
		var code int
		code, metrics = get("/metrics")
		if code == 200 && strings.Contains(metrics, `cardline_print_batches{state="planned"} 2`) &&
			strings.Contains(metrics, `cardline_clock_job_runs_total{job="sla-sweep",outcome="ok"}`) {
			break
		}
		select {
		case err := <-served:
			t.Fatalf("serve stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("no two planned batches and no SLA sweep in /metrics:\n%s", metrics)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, want := range []string{
		`cardline_cards{state="queued"} 3`,
		`cardline_queue_cards{batched="true",card_type="cleaning"} 3`,
		`cardline_queue_oldest_seconds{card_type="cleaning"}`,
		`cardline_sla_orders_at_risk 0`,
		`cardline_database_up 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\nclock: leader\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	stop()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve: %v", err)
	}
}
