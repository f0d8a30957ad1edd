package production

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/bus"
	"cardline/internal/testsupport"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// line is intake running against a real database, as `cardline serve` runs it.
type line struct {
	pool *pgxpool.Pool
	bus  *bus.Bus
	// inline turns the Prevalidator off: every message is validated by the handler itself.
	inline bool
}

func openLine(t testing.TB, url string) *line {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	b := bus.New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), bus.Options{PollInterval: 10 * time.Millisecond})
	if err := b.InitTopics(ctx, IntakeConsumerGroup, TopicOrdersApproved); err != nil {
		t.Fatal(err)
	}
	return &line{pool: pool, bus: b}
}

// runIntake starts the intake router until ctx ends; handled wraps the handler (for crash tests).
func (l *line) runIntake(ctx context.Context, t testing.TB, wrap func(message.NoPublishHandlerFunc) message.NoPublishHandlerFunc) <-chan error {
	t.Helper()
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	v := &Validator{HolderSecret: []byte("test-secret"), Calendar: cal, Now: time.Now}
	in := &Intake{Bus: l.bus, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Validator: v}
	if !l.inline {
		in.Ahead = NewPrevalidator(l.pool, v)
		go in.Ahead.Run(ctx)
	}
	router, err := l.bus.Router(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := l.bus.Subscriber(IntakeConsumerGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Register(ctx, router, sub); err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		router.AddMiddleware(func(h message.HandlerFunc) message.HandlerFunc {
			w := wrap(func(m *message.Message) error { _, err := h(m); return err })
			return func(m *message.Message) ([]*message.Message, error) { return nil, w(m) }
		})
	}
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	<-router.Running()
	return done
}

func (l *line) submit(t testing.TB, payloads ...[]byte) []string {
	t.Helper()
	var ids []string
	for _, p := range payloads {
		m := message.NewMessage(watermill.NewUUID(), p)
		ids = append(ids, m.UUID)
		if err := l.bus.Publish(context.Background(), TopicOrdersApproved, m); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func (l *line) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := l.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (l *line) events(t testing.TB, topic string) []map[string]any {
	t.Helper()
	rows, err := l.pool.Query(context.Background(), `SELECT payload FROM `+bus.Table(topic)+` ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("event on %s is not JSON: %v", topic, err)
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls until the input topic is drained (every handled message is deleted).
func (l *line) waitDrained(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for l.count(t, `SELECT count(*) FROM `+bus.Table(TopicOrdersApproved)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("input topic not drained after 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIntakeThroughPostgres(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := l.runIntake(ctx, t, nil)

	s := NewSamples(42)
	approved := time.Now().Add(-time.Hour)
	good := s.Order(2, approved)
	good.Accessories = []WireAccessory{{SKU: "cardholder", Quantity: 2}}
	nationalIDs := []string{good.Cards[0].Holder.NationalID, good.Cards[1].Holder.NationalID}
	bad := s.Order(1, approved)
	bad.Company.OrgNumber = "923609017"
	bad.Cards[0].Holder.Gender = "?"
	conflicting := *good
	conflicting.Orderer.Email = "someone.else@bygg.example"
	again := s.Order(1, approved) // same person and company as good's first card, no replaces_card
	again.Company = good.Company
	again.Cards[0].Holder = good.Cards[0].Holder
	// NULs, which PostgreSQL text and jsonb refuse, in values a rejected order keeps as sent.
	nul := s.Order(1, approved)
	nul.CardType, nul.DeliveryAddress.PostalCode = "construction\x00", "01\x0050"
	nul.Accessories = []WireAccessory{{SKU: "card\x00holder", Quantity: 1}}

	l.submit(t, marshal(t, good), marshal(t, bad), []byte(`{"order_id": "A-broken", "cards": [`), []byte(`not json`), marshal(t, again), marshal(t, nul))
	l.waitDrained(t)
	l.submit(t, marshal(t, good), marshal(t, &conflicting), marshal(t, &conflicting)) // replay, conflict, conflict replayed
	l.waitDrained(t)

	// The good order: accepted, two cards numbered, deadline set, events out.
	var state, dispatchBy string
	if err := l.pool.QueryRow(ctx, `SELECT state, dispatch_by::text FROM orders WHERE order_id = $1`, good.OrderID).Scan(&state, &dispatchBy); err != nil {
		t.Fatal(err)
	}
	cal, _ := NewBusinessDays()
	at, _ := time.Parse(time.RFC3339, good.ApprovedAt)
	if state != "accepted" || dispatchBy != cal.DispatchBy(at).Format(time.DateOnly) {
		t.Errorf("good order: state %s dispatch_by %s", state, dispatchBy)
	}
	rows, _ := l.pool.Query(ctx, `SELECT card_number, state FROM cards WHERE order_id = $1 ORDER BY position`, good.OrderID)
	var numbers []string
	for rows.Next() {
		var n, st string
		rows.Scan(&n, &st)
		if _, err := ParseCardNumber(n); err != nil || st != "queued" {
			t.Errorf("card %s in state %s: %v", n, st, err)
		}
		numbers = append(numbers, n)
	}
	if len(numbers) != 2 {
		t.Fatalf("good order has %d cards", len(numbers))
	}
	if n := l.count(t, `SELECT count(*) FROM intake_conflicts WHERE order_id = $1`, good.OrderID); n != 1 {
		t.Errorf("%d conflicts recorded, want 1", n)
	}
	var email string
	l.pool.QueryRow(ctx, `SELECT orderer_email FROM orders WHERE order_id = $1`, good.OrderID).Scan(&email)
	if email != good.Orderer.Email {
		t.Errorf("conflicting message changed the order: email %s", email)
	}

	accepted := l.events(t, TopicOrdersAccepted)
	if len(accepted) != 1 || accepted[0]["order_id"] != good.OrderID || len(accepted[0]["cards"].([]any)) != 2 {
		t.Errorf("accepted events: %v", accepted)
	}
	if q := l.events(t, TopicCardsQueued); len(q) != 2 {
		t.Errorf("%d CardQueued events, want 2", len(q))
	}
	if c := l.events(t, TopicOrderConflicts); len(c) != 1 || c[0]["order_id"] != good.OrderID {
		t.Errorf("conflict events: %v", c)
	}

	// Rejections: the bad order with both reasons, the broken one by id, the unreadable one by
	// message, the second card for the same employment.
	rejected := map[string][]any{}
	unnamed := 0
	for _, e := range l.events(t, TopicOrdersRejected) {
		if id, ok := e["order_id"].(string); ok {
			rejected[id] = e["problems"].([]any)
		} else {
			unnamed++
		}
	}
	if len(rejected[bad.OrderID]) != 2 || len(rejected["A-broken"]) != 1 || len(rejected[again.OrderID]) != 1 || len(rejected[nul.OrderID]) != 3 ||
		unnamed != 1 || len(rejected) != 4 {
		t.Errorf("rejected events: %v (+%d unnamed)", rejected, unnamed)
	}
	if p := rejected[again.OrderID][0].(map[string]any); p["rule"] != "one-card-per-employment" || p["field"] != "cards[0].holder.national_id" {
		t.Errorf("second card for the same employment: %v", p)
	}
	for _, id := range []string{bad.OrderID, "A-broken", again.OrderID, nul.OrderID} {
		var st string
		var problems []byte
		if err := l.pool.QueryRow(ctx, `SELECT state, problems FROM orders WHERE order_id = $1`, id).Scan(&st, &problems); err != nil || st != "rejected" || len(problems) < 10 {
			t.Errorf("order %s stored as %q with problems %s (%v)", id, st, problems, err)
		}
	}
	// The audit log, which retention never touches, names the rule only, not the sentence.
	var audited string
	if err := l.pool.QueryRow(ctx, `SELECT reason FROM audit_log WHERE entity = 'order' AND entity_id = $1`, again.OrderID).Scan(&audited); err != nil ||
		audited != "cards[0].holder.national_id: one-card-per-employment" {
		t.Errorf("audit of the rejection: %q, %v", audited, err)
	}
	if n := l.count(t, `SELECT count(*) FROM unreadable_messages`); n != 1 {
		t.Errorf("%d unreadable messages stored, want 1", n)
	}
	if n := l.count(t, `SELECT count(*) FROM audit_log WHERE entity = 'card' AND to_state = 'queued'`); n != 2 {
		t.Errorf("%d card audit entries, want 2", n)
	}

	// A replacement: carries replaces_card, so the old card is blocked and the event says so.
	repl := s.Order(1, approved)
	repl.Company = good.Company
	repl.Cards[0].Holder = good.Cards[0].Holder
	repl.Cards[0].ReplacesCard = &numbers[0]
	l.submit(t, marshal(t, repl))
	l.waitDrained(t)
	var oldState string
	l.pool.QueryRow(ctx, `SELECT state FROM cards WHERE card_number = $1`, numbers[0]).Scan(&oldState)
	if oldState != "blocked" {
		t.Errorf("replaced card is %s, want blocked", oldState)
	}
	accepted = l.events(t, TopicOrdersAccepted)
	if last := accepted[len(accepted)-1]; last["order_id"] != repl.OrderID || fmt.Sprint(last["blocked_cards"]) != fmt.Sprint([]any{numbers[0]}) {
		t.Errorf("replacement accepted event: %v", last)
	}
	if b := l.events(t, TopicCardsBlocked); len(b) != 1 || b[0]["card_number"] != numbers[0] {
		t.Errorf("blocked events: %v", b)
	}

	// The national ids are nowhere in the database: not in a table, not in an event, not in the
	// input topic.
	tables, _ := l.pool.Query(ctx, `SELECT table_name, EXISTS (SELECT 1 FROM information_schema.columns c
		WHERE c.table_name = t.table_name AND c.column_name = 'payload') FROM information_schema.tables t WHERE table_schema = 'public'`)
	type table struct {
		name       string
		hasPayload bool
	}
	var all []table
	for tables.Next() {
		var tb table
		tables.Scan(&tb.name, &tb.hasPayload)
		all = append(all, tb)
	}
	if len(all) < 10 {
		t.Fatalf("only %d tables to search", len(all))
	}
	for _, tb := range all {
		q := `SELECT count(*) FROM ` + pgx.Identifier{tb.name}.Sanitize() + ` t WHERE t::text LIKE '%' || $1 || '%'`
		if tb.hasPayload {
			q += ` OR position(convert_to($1, 'UTF8') in payload) > 0`
		}
		for _, nid := range nationalIDs {
			if n := l.count(t, q, nid); n > 0 {
				t.Errorf("national id found in %d rows of %s", n, tb.name)
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
