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
	if err := b.InitTopics(ctx, "g", topic, PoisonTopic); err != nil {
		t.Fatal(err)
	}
	router, err := b.Router()
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
