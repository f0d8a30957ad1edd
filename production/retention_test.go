package production

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jonboulle/clockwork"

	"cardline/internal/bus"
)

// readAll has group read and acknowledge the n messages waiting on topic, and waits until its
// offset is committed at the topic's last message.
func readAll(t *testing.T, ctx context.Context, b *bus.Bus, s *Store, group, topic string, n int) {
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
			t.Fatalf("%s read fewer than %d messages of %s", group, n, topic)
		}
	}
	last := s.count(t, `SELECT max("offset") FROM `+bus.Table(topic))
	eventually(t, group+" commits its offset on "+topic, func() bool {
		offs, err := bus.Offsets(ctx, s.pool, topic)
		return err == nil && slices.ContainsFunc(offs, func(o bus.ConsumerOffset) bool { return o.Group == group && o.Offset == int64(last) })
	})
}

// Retention beyond dispatched orders, on a fake clock against a real database: a rejected order
// past its retention loses its orderer and its problems' wording but keeps its record; a younger
// one and an accepted order keep everything. Events every group has read go after the event
// retention; an event a group has not read stays however old, and the group is named. The input and poison topics, which
// carry national ids, go after the shorter poison retention, and the poison deletion is logged
// with its count.
func TestRetainRejectedOrdersAndMessages(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	fake := clockwork.NewFakeClockAt(now)
	day := 24 * time.Hour
	b := bus.New(s.pool, slog.New(slog.NewTextHandler(io.Discard, nil)), bus.Options{PollInterval: 10 * time.Millisecond})
	if err := b.InitTopics(ctx, IntakeConsumerGroup, TopicOrdersApproved, TopicOrdersAccepted, bus.PoisonTopic); err != nil {
		t.Fatal(err)
	}

	// Orders: two rejected (40 and 10 days ago), one accepted 40 days ago and not yet dispatched.
	problems := Problems{{Field: "cards[0].holder.national_id", Rule: "one-card-per-employment",
		Message: "holder already has active card 1000000017 at organisation 923609016; order a replacement with replaces_card"}}
	for _, r := range []struct {
		id  string
		age time.Duration
	}{{"A-2026-0000101", 40 * day}, {"A-2026-0000102", 10 * day}} {
		o := &Order{ID: r.id, State: OrderRejected, CardType: Construction, OrgNumber: "923609016", CompanyName: "Bygg og Rør AS",
			OrdererName: "Kari Nordmann", OrdererEmail: "kari@bygg.example", Problems: problems,
			Address: Address{Name: "Bygg og Rør AS", Attention: "HR v/ Kari", Street: "Storgata 1", PostalCode: "0155", City: "OSLO", Country: "NO"}}
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := insertOrder(ctx, tx, o, []byte{1}, r.id, intakeActor); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE orders SET received_at = $2 WHERE order_id = $1`, r.id, now.Add(-r.age))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Messages that named no order, 40 and 10 days ago, with a problem that quotes an e-mail.
	quoting := Problems{{Field: "orderer.email", Rule: "email", Message: `must be a plain e-mail address like name@example.no, not "kari(at)bygg.example"`}}
	for i, age := range []time.Duration{40 * day, 10 * day} {
		raw, _ := json.Marshal(quoting)
		if _, err := s.pool.Exec(ctx, `INSERT INTO unreadable_messages (payload_sha256, message_uuid, size_bytes, problems, received_at)
			VALUES ($1, $2, 100, $3, $4)`, []byte{byte(i)}, fmt.Sprintf("unreadable-%d", i), raw, now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	seedOrder(t, s, "A-2026-0000103", Cleaning, now.AddDate(0, 0, 3), 1)
	// Orders whose only card was blocked (replaced before it was made), 100 and 10 days ago: they
	// are never dispatched, so the first goes as a dispatched order would.
	for id, age := range map[string]time.Duration{"A-2026-0000104": 100 * day, "A-2026-0000105": 10 * day} {
		seedOrder(t, s, id, Cleaning, now.AddDate(0, 0, 3), 1)
		if _, err := s.pool.Exec(ctx, `UPDATE cards SET state = 'blocked', updated_at = $2 WHERE order_id = $1`, id, now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `UPDATE orders SET received_at = $1 WHERE order_id = 'A-2026-0000103'`, now.Add(-40*day)); err != nil {
		t.Fatal(err)
	}

	// Messages, by uuid: the age each is given, and whether retention must keep it.
	publish := func(topic string, uuids ...string) {
		t.Helper()
		for _, u := range uuids {
			if err := b.Publish(ctx, topic, message.NewMessage(u, []byte(`{"holder_name":"Øyvind Ødegård"}`))); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(TopicOrdersAccepted, "accepted-40d-read", "accepted-20d-read")
	readAll(t, ctx, b, s, "mailer", TopicOrdersAccepted, 2)
	publish(TopicOrdersAccepted, "accepted-40d-unread")
	publish(TopicOrdersApproved, "input-20d-read", "input-5d-read")
	readAll(t, ctx, b, s, IntakeConsumerGroup, TopicOrdersApproved, 2)
	publish(bus.PoisonTopic, "poison-20d", "poison-5d")
	messages := []struct {
		topic, uuid string
		age         time.Duration
		kept        bool
	}{
		{TopicOrdersAccepted, "accepted-40d-read", 40 * day, false},
		{TopicOrdersAccepted, "accepted-20d-read", 20 * day, true},
		{TopicOrdersAccepted, "accepted-40d-unread", 40 * day, true},
		{TopicOrdersApproved, "input-20d-read", 20 * day, false},
		{TopicOrdersApproved, "input-5d-read", 5 * day, true},
		{bus.PoisonTopic, "poison-20d", 20 * day, false},
		{bus.PoisonTopic, "poison-5d", 5 * day, true},
	}
	for _, m := range messages {
		if _, err := s.pool.Exec(ctx, `UPDATE `+bus.Table(m.topic)+` SET created_at = $1::timestamptz WHERE uuid = $2`, now.Add(-m.age), m.uuid); err != nil {
			t.Fatal(err)
		}
	}

	metrics := NewMetrics(s)
	var logs lockedBuffer
	c, err := NewClock(s, ClockConfig{PlanEvery: time.Hour, BatchSize: 10, SLAEvery: time.Hour, Capacity: 10, NextPickup: testPickup(cal),
		RetentionEvery: time.Hour, Retention: 90 * day, RejectedRetention: 30 * day, EventRetention: 30 * day, PoisonRetention: 14 * day,
		Calendar: cal}, slog.New(slog.NewJSONHandler(&logs, nil)), WithFakeClock(fake), WithMetrics(metrics))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Retain(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if !slices.Equal(res.Rejected, []string{"A-2026-0000101"}) || !slices.Equal(res.Orders, []string{"A-2026-0000104"}) {
		t.Errorf("erased rejected %v and done %v; want the old rejected order and the order blocked long ago", res.Rejected, res.Orders)
	}
	if n := s.count(t, `SELECT count(*) FROM orders WHERE order_id = 'A-2026-0000101' AND state = 'rejected'
		AND orderer_name IS NULL AND orderer_email IS NULL AND personal_data_erased_at IS NOT NULL
		AND delivery_address->>'attention' IS NULL AND delivery_address->>'street' = 'Storgata 1'
		AND org_number = '923609016' AND company_name = 'Bygg og Rør AS'
		AND problems = '[{"field": "cards[0].holder.national_id", "rule": "one-card-per-employment"}]'`); n != 1 {
		var row string
		s.pool.QueryRow(ctx, `SELECT row_to_json(o)::text FROM orders o WHERE order_id = 'A-2026-0000101'`).Scan(&row)
		t.Errorf("the old rejected order is not erased with its record kept: %s", row)
	}
	if n := s.count(t, `SELECT count(*) FROM audit_log WHERE entity_id = 'A-2026-0000101' AND to_state = 'rejected'`); n != 1 {
		t.Errorf("%d audit entries of the old rejected order, want its rejection kept", n)
	}
	if n := s.count(t, `SELECT count(*) FROM cards c JOIN orders o USING (order_id) WHERE o.order_id = 'A-2026-0000104'
		AND c.given_name = '' AND c.birth_date IS NULL AND o.orderer_email IS NULL AND o.personal_data_erased_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM card_photos p WHERE p.card_number = c.card_number)`); n != 1 {
		t.Error("the order blocked long ago keeps personal data")
	}
	if n := s.count(t, `SELECT count(*) FROM orders WHERE order_id IN ('A-2026-0000102', 'A-2026-0000103', 'A-2026-0000105')
		AND orderer_name = 'Kari Nordmann' AND orderer_email = 'kari@bygg.example' AND delivery_address->>'attention' IS NOT NULL
		AND personal_data_erased_at IS NULL`); n != 3 {
		t.Error("the young rejected order, the accepted order or the order blocked lately lost personal data")
	}
	if n := s.count(t, `SELECT count(*) FROM orders WHERE order_id = 'A-2026-0000102' AND problems->0->>'message' <> ''`); n != 1 {
		t.Error("the young rejected order lost its problems' wording")
	}
	if res.Unreadable != 1 {
		t.Errorf("%d unreadable messages erased, want the old one", res.Unreadable)
	}
	if n := s.count(t, `SELECT count(*) FROM unreadable_messages WHERE message_uuid = 'unreadable-0' AND problems_erased_at IS NOT NULL
		AND problems = '[{"field": "orderer.email", "rule": "email"}]'`); n != 1 {
		t.Error("the old unreadable message keeps its problems' wording, or lost their field and rule")
	}
	if n := s.count(t, `SELECT count(*) FROM unreadable_messages WHERE message_uuid = 'unreadable-1' AND problems_erased_at IS NULL
		AND problems->0->>'message' LIKE '%kari(at)bygg.example%'`); n != 1 {
		t.Error("the young unreadable message lost its problems' wording")
	}

	for _, m := range messages {
		if got := s.count(t, `SELECT count(*) FROM `+bus.Table(m.topic)+` WHERE uuid = $1`, m.uuid) == 1; got != m.kept {
			t.Errorf("%s on %s: kept %v, want %v", m.uuid, m.topic, got, m.kept)
		}
	}
	wantGone := map[string]int64{TopicOrdersAccepted: 1, TopicOrdersApproved: 1, bus.PoisonTopic: 1}
	if len(res.Messages) != len(wantGone) {
		t.Errorf("messages deleted by topic %v, want %v", res.Messages, wantGone)
	}
	for topic, n := range wantGone {
		if res.Messages[topic] != n {
			t.Errorf("messages deleted by topic %v, want %v", res.Messages, wantGone)
		}
		if got := value(t, metrics.deletedMsgs.WithLabelValues(topic)); got != float64(n) {
			t.Errorf("metric of messages deleted from %s: %v, want %d", topic, got, n)
		}
	}
	if got := value(t, metrics.erasedOrders.WithLabelValues("rejected")); got != 1 {
		t.Errorf("metric of rejected orders erased: %v, want 1", got)
	}
	if len(res.Held) != 1 || len(res.Held[TopicOrdersAccepted]) != 1 || res.Held[TopicOrdersAccepted]["mailer"] != 1 {
		t.Errorf("held %v, want the mailer group holding one event on %s", res.Held, TopicOrdersAccepted)
	}
	if got := value(t, metrics.heldMsgs.WithLabelValues(TopicOrdersAccepted, "mailer")); got != 1 {
		t.Errorf("metric of messages the mailer holds: %v, want 1", got)
	}
	if !logs.contains(`"level":"WARN","msg":"messages past retention kept: a consumer group has not read them","topic":"hms.orders.accepted.v1","group":"mailer","messages":1`) {
		t.Errorf("the group holding an old event is not named in a warning:\n%s", logs.String())
	}
	if !logs.contains(`"level":"WARN","msg":"poisoned messages deleted past retention, not replayed","topic":"cardline.poison.v1","messages":1,"retention":"336h0m0s"`) {
		t.Errorf("the poison deletion is not logged with its count:\n%s", logs.String())
	}

	// A second run finds nothing more: what is left is young or unread.
	again, err := c.Retain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Rejected) != 0 || len(again.Messages) != 0 || again.Unreadable != 0 {
		t.Errorf("second run erased %v (and %d unreadable) and deleted %v", again.Rejected, again.Unreadable, again.Messages)
	}
}

// Retention periods left zero take their documented defaults; negative ones are refused.
func TestClockRetentionDefaults(t *testing.T) {
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	cfg := ClockConfig{PlanEvery: time.Hour, BatchSize: 10, SLAEvery: time.Hour, Capacity: 10, NextPickup: testPickup(cal),
		RetentionEvery: time.Hour, Retention: 90 * 24 * time.Hour, Calendar: cal}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	d := cfg.withDefaults()
	if d.RejectedRetention != DefaultRejectedRetention || d.EventRetention != DefaultEventRetention || d.PoisonRetention != DefaultPoisonRetention {
		t.Errorf("defaults %v %v %v", d.RejectedRetention, d.EventRetention, d.PoisonRetention)
	}
	cfg.PoisonRetention = -time.Hour
	if cfg.check() == nil {
		t.Error("a negative poison retention was accepted")
	}
}
