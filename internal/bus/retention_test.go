package bus

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/testsupport"
)

// consume reads n messages of topic as group, acknowledges them, and waits until the group's
// offset has caught up with the topic's last message.
func consume(t *testing.T, ctx context.Context, b *Bus, group, topic string, n int) {
	t.Helper()
	sub, err := b.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ch, err := sub.Subscribe(sctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case m := <-ch:
			m.Ack()
		case <-sctx.Done():
			t.Fatalf("%s: fewer than %d messages on %s", group, n, topic)
		}
	}
	var last int64
	if err := b.pool.QueryRow(ctx, `SELECT max("offset") FROM `+Table(topic)).Scan(&last); err != nil {
		t.Fatal(err)
	}
	for {
		offs, err := Offsets(ctx, b.pool, topic)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(offs, func(o ConsumerOffset) bool { return o.Group == group }); i >= 0 && offs[i].Offset == last {
			return
		}
		if sctx.Err() != nil {
			t.Fatalf("%s: offset on %s never reached %d: %+v", group, topic, last, offs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Messages go only when older than the cut-off and acknowledged by every consumer group of their
// topic; on a topic no group reads, age alone decides; limit bounds one call.
func TestDeleteConsumed(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testsupport.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	b := New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{PollInterval: 10 * time.Millisecond})
	const read, unread = "test.read", "test.unread"
	if err := b.InitTopics(ctx, "a", read, unread); err != nil {
		t.Fatal(err)
	}
	publish := func(topic string, payloads ...string) {
		t.Helper()
		for _, p := range payloads {
			if err := b.Publish(ctx, topic, message.NewMessage(p, []byte(p))); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now()
	age := func(topic string, uuids []string, d time.Duration) {
		t.Helper()
		if _, err := pool.Exec(ctx, `UPDATE `+Table(topic)+` SET created_at = $1::timestamptz WHERE uuid = ANY($2)`, now.Add(-d), uuids); err != nil {
			t.Fatal(err)
		}
	}
	left := func(topic string) []string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT uuid FROM `+Table(topic)+` ORDER BY transaction_id, "offset"`)
		if err != nil {
			t.Fatal(err)
		}
		uuids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return uuids
	}
	cutoff := now.Add(-time.Hour)

	// Both groups read m1 and m2; only a reads m3 and m4. m4 is young.
	publish(read, "m1", "m2")
	consume(t, ctx, b, "a", read, 2)
	consume(t, ctx, b, "b", read, 2)
	publish(read, "m3", "m4")
	consume(t, ctx, b, "a", read, 2)
	age(read, []string{"m1", "m2", "m3"}, 2*time.Hour)
	// No group has ever subscribed to unread: u1 is old, u2 young.
	publish(unread, "u1", "u2")
	age(unread, []string{"u1"}, 2*time.Hour)

	offs, err := Offsets(ctx, pool, read)
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != 2 || offs[0].Group != "a" || offs[1].Group != "b" || offs[1].Offset >= offs[0].Offset || offs[1].TransactionID == 0 {
		t.Fatalf("offsets of %s: %+v, want a ahead of b", read, offs)
	}
	if offs, err := Offsets(ctx, pool, unread); err != nil || len(offs) != 0 {
		t.Fatalf("offsets of %s: %+v, %v; want none", unread, offs, err)
	}
	topics, err := Topics(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(topics, []string{read, unread}) {
		t.Errorf("topics %v, want [%s %s]", topics, read, unread)
	}

	if n, err := DeleteConsumed(ctx, pool, read, cutoff, 1); err != nil || n != 1 {
		t.Fatalf("limit 1: deleted %d, %v", n, err)
	}
	if n, err := DeleteConsumed(ctx, pool, read, cutoff, 100); err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want m2 only", n, err)
	}
	if got := left(read); !slices.Equal(got, []string{"m3", "m4"}) {
		t.Errorf("%s keeps %v, want m3 (b has not read it) and m4 (young)", read, got)
	}
	if held, err := Held(ctx, pool, read, cutoff); err != nil || len(held) != 1 || held["b"] != 1 {
		t.Errorf("held on %s: %v, %v; want b holding m3", read, held, err)
	}
	if n, err := DeleteConsumed(ctx, pool, unread, cutoff, 100); err != nil || n != 1 {
		t.Fatalf("deleted %d of %s, %v", n, unread, err)
	}
	if got := left(unread); !slices.Equal(got, []string{"u2"}) {
		t.Errorf("%s keeps %v, want the young u2", unread, got)
	}

	consume(t, ctx, b, "b", read, 2) // b catches up: m3 may go, m4 is still young
	if n, err := DeleteConsumed(ctx, pool, read, cutoff, 100); err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want m3", n, err)
	}
	if got := left(read); !slices.Equal(got, []string{"m4"}) {
		t.Errorf("%s keeps %v, want m4", read, got)
	}
	if held, err := Held(ctx, pool, read, cutoff); err != nil || len(held) != 0 {
		t.Errorf("held on %s after b caught up: %v, %v", read, held, err)
	}
}

// One retention chunk (1000 messages) on a topic of 200 000 old messages one group has read, and a
// pass that finds nothing to delete among 200 000 young ones (the scan every hourly run pays).
func BenchmarkDeleteConsumed(b *testing.B) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testsupport.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	bs := New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	const old, young = "bench.old", "bench.young"
	if err := bs.InitTopics(ctx, "a", old, young); err != nil {
		b.Fatal(err)
	}
	for _, topic := range []string{old, young} {
		if _, err := pool.Exec(ctx, `INSERT INTO `+Table(topic)+` (uuid, payload, transaction_id, created_at)
			SELECT gen_random_uuid()::text, '\x7b7d', pg_current_xact_id(), now() - $1::interval FROM generate_series(1, 200000)`,
			map[string]string{old: "2 days", young: "1 minute"}[topic]); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO `+offsetsTable(topic)+` (consumer_group, offset_acked, last_processed_transaction_id)
			SELECT 'a', max("offset"), max(transaction_id) FROM `+Table(topic)); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE `+Table(topic)); err != nil {
			b.Fatal(err)
		}
	}
	cutoff := time.Now().Add(-time.Hour)
	b.Run("chunk", func(b *testing.B) {
		for b.Loop() {
			if n, err := DeleteConsumed(ctx, pool, old, cutoff, 1000); err != nil || n != 1000 {
				b.Fatalf("deleted %d, %v", n, err)
			}
		}
	})
	b.Run("nothing", func(b *testing.B) {
		for b.Loop() {
			if n, err := DeleteConsumed(ctx, pool, young, cutoff, 1000); err != nil || n != 0 {
				b.Fatalf("deleted %d, %v", n, err)
			}
		}
	})
}
