package bus

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/testsupport"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// A message whose handler always fails goes to the poison topic after its retries, the writes of
// its failed attempts are rolled back, and the messages behind it are handled: nothing blocks.
func TestPoisonMessageDoesNotBlockTopic(t *testing.T) {
	for _, fail := range []string{"error", "panic"} {
		t.Run(fail, func(t *testing.T) { poisonMessage(t, fail) })
	}
}

// poisonMessage runs the test with a handler that fails the bad message by fail ("error" or
// "panic"), on a fresh database where nothing but the router creates the poison topic's table.
func poisonMessage(t *testing.T, fail string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, testsupport.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE seen (payload text)`); err != nil {
		t.Fatal(err)
	}
	b := New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{PollInterval: 10 * time.Millisecond, MaxRetries: 2, RetryInterval: time.Millisecond})
	const topic = "test.poison"
	if err := b.InitTopics(ctx, "g", topic); err != nil {
		t.Fatal(err)
	}
	router, err := b.Router(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	router.AddConsumerHandler("h", topic, sub, func(m *message.Message) error {
		tx, err := Tx(m.Context())
		if err != nil {
			return err
		}
		if _, err := tx.Exec(m.Context(), `INSERT INTO seen VALUES ($1)`, string(m.Payload)); err != nil {
			return err
		}
		if string(m.Payload) == "bad" {
			attempts++
			if fail == "panic" {
				panic("handler bug")
			}
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	<-router.Running()
	for _, p := range []string{"one", "bad", "two"} {
		if err := b.Publish(ctx, topic, message.NewMessage(watermill.NewUUID(), []byte(p))); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	for len(seen) < 2 {
		rows, _ := pool.Query(ctx, `SELECT payload FROM seen ORDER BY payload`)
		seen = seen[:0]
		for rows.Next() {
			var s string
			rows.Scan(&s)
			seen = append(seen, s)
		}
		if ctx.Err() != nil {
			t.Fatalf("messages behind the poison one not handled: seen %v", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	var n int
	pool.QueryRow(context.Background(), `SELECT count(*) FROM seen`).Scan(&n)
	if n != 2 || seen[0] != "one" || seen[1] != "two" {
		t.Errorf("seen %v (%d rows): a failed attempt's write survived", seen, n)
	}
	if attempts != 3 {
		t.Errorf("bad message tried %d times, want 1 + 2 retries", attempts)
	}
	var payload, reason string
	err = pool.QueryRow(context.Background(), `SELECT convert_from(payload, 'UTF8'), metadata->>$1 FROM `+Table(PoisonTopic), middleware.ReasonForPoisonedKey).Scan(&payload, &reason)
	if err != nil || payload != "bad" || reason == "" {
		t.Errorf("poison topic holds %q (reason %q, %v)", payload, reason, err)
	}
}

// When the router stops while a handler is mid-way, watermill-sql gives up on the message and ends
// its transaction; the guard makes that wait for the handler, so its writes commit whole or not at
// all (here: both rows or neither), and the connection is never used from two goroutines.
func TestShutdownMidHandlerCommitsWholeOrNothing(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testsupport.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE seen (payload text)`); err != nil {
		t.Fatal(err)
	}
	b := New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{PollInterval: 10 * time.Millisecond})
	const topic = "test.shutdown"
	if err := b.InitTopics(ctx, "g", topic); err != nil {
		t.Fatal(err)
	}
	router, err := b.Router(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	router.AddConsumerHandler("h", topic, sub, func(m *message.Message) error {
		tx, err := Tx(m.Context())
		if err != nil {
			return err
		}
		if _, err := tx.Exec(context.WithoutCancel(m.Context()), `INSERT INTO seen VALUES ('first half')`); err != nil {
			return err
		}
		close(started)
		time.Sleep(300 * time.Millisecond) // the router is told to stop meanwhile
		_, err = tx.Exec(context.WithoutCancel(m.Context()), `INSERT INTO seen VALUES ('second half')`)
		return err
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- router.Run(runCtx) }()
	<-router.Running()
	if err := b.Publish(ctx, topic, message.NewMessage(watermill.NewUUID(), []byte("x"))); err != nil {
		t.Fatal(err)
	}
	<-started
	stop()
	<-done
	time.Sleep(100 * time.Millisecond)
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM seen`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 && n != 2 {
		t.Errorf("%d of the handler's 2 writes committed: a half-done handler leaked", n)
	}
}
