package shipping

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/bus"
	"cardline/internal/testsupport"
	"cardline/printer"
	"cardline/production"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// storeLine is production's store with intake, and shipping's store, on a fresh database.
type storeLine struct {
	pool  *pgxpool.Pool
	bus   *bus.Bus
	cal   *production.BusinessDays
	store *Store
}

func openStoreLine(t *testing.T) *storeLine {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testsupport.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := production.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	b := bus.New(pool, slog.New(slog.NewTextHandler(io.Discard, nil)), bus.Options{})
	if err := b.InitTopics(ctx, production.IntakeConsumerGroup, production.OutputTopics...); err != nil {
		t.Fatal(err)
	}
	cal, err := production.NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	return &storeLine{pool: pool, bus: b, cal: cal, store: NewStore(pool, b, cal)}
}

// intake stores an order through production's real intake and returns its card numbers.
func (l *storeLine) intake(t *testing.T, m *production.OrderApproved) []string {
	t.Helper()
	ctx := context.Background()
	in := &production.Intake{Bus: l.bus, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		Validator: &production.Validator{HolderSecret: []byte("test"), Calendar: l.cal, Now: time.Now}}
	payload, _ := json.Marshal(m)
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		out, _, err := in.Process(ctx, tx, watermill.NewUUID(), payload)
		if err == nil && out != production.OutcomeAccepted {
			t.Fatalf("order %s: %s", m.OrderID, out)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := l.pool.Query(ctx, `SELECT card_number FROM cards WHERE order_id = $1 ORDER BY card_number`, m.OrderID)
	cards, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cards
}

// move walks a card through states, as the stations will, with production's transitions.
func (l *storeLine) move(t *testing.T, card string, states ...production.CardState) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), l.pool, func(tx pgx.Tx) error {
		for _, s := range states {
			if _, err := production.TransitionCard(context.Background(), tx, production.CardNumber(card), s, "station-test", ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var toProduced = []production.CardState{production.CardInProduction, production.CardEncoded, production.CardPrinted, production.CardProduced}

func (l *storeLine) str(t *testing.T, q string, args ...any) string {
	t.Helper()
	var s string
	if err := l.pool.QueryRow(context.Background(), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

type qrKey struct{ pub ed25519.PublicKey }

func (q qrKey) CardFromQR(_ context.Context, payload string) (string, error) {
	n, _, err := printer.VerifyStatusURL(q.pub, payload)
	return n, err
}

func (q qrKey) CardFromChipUID(context.Context, string) (string, error) {
	return "", errors.New("no chip records")
}

// TestStorePlanPackDispatch runs two orders through the store: plan (twice: nothing new), a card
// spoiled after its label was made (voided, remade, relabelled with the next sequence), packing
// with right and wrong cards, dispatch refused while unpacked, then dispatch (cards and orders
// moved with audit, OrderDispatched with the envelope ids, deadline met or missed), and a second
// dispatch that changes nothing.
func TestStorePlanPackDispatch(t *testing.T) {
	l := openStoreLine(t)
	ctx := context.Background()
	s := production.NewSamples(5)
	approved := time.Now().Add(-time.Hour)
	a := s.Order(2, approved)
	a.Accessories = []production.WireAccessory{{SKU: "cardholder", Quantity: 2}}
	b := s.Order(1, approved)
	b.Accessories = nil
	ca, cb := l.intake(t, a), l.intake(t, b)
	for _, c := range append(slices.Clone(ca), cb...) {
		l.move(t, c, toProduced...)
	}
	// Order a moves as the stations will move it; order b is left accepted, for dispatch to walk.
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		for _, st := range []production.OrderState{production.OrderInProduction, production.OrderProduced} {
			if err := production.TransitionOrder(ctx, tx, a.OrderID, st, "station-test", ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	sched := l.store.Schedule(15*time.Hour, 14*time.Hour)
	now := time.Now()
	first, err := l.store.PlanPickup(ctx, now, sched)
	if err != nil {
		t.Fatal(err)
	}
	envIDs := func(b Batch) []string {
		var out []string
		for _, e := range b.Envelopes {
			out = append(out, string(e.ID))
		}
		slices.Sort(out)
		return out
	}
	want := []string{"E" + ca[0] + "01", "E" + ca[1] + "01", "E" + cb[0] + "01"}
	slices.Sort(want)
	if got := envIDs(first.Batch); !slices.Equal(got, want) || first.NewEnvelopes != 3 || first.NewParcels != 1 || len(first.Held) != 0 {
		t.Fatalf("first plan: envelopes %v (%d new), %d new parcels, held %v; want %v", got, first.NewEnvelopes, first.NewParcels, first.Held, want)
	}
	again, err := l.store.PlanPickup(ctx, now, sched)
	if err != nil {
		t.Fatal(err)
	}
	if again.NewEnvelopes != 0 || again.NewParcels != 0 || !slices.Equal(envIDs(again.Batch), want) {
		t.Fatalf("second plan recorded %d envelopes, %d parcels anew: %v", again.NewEnvelopes, again.NewParcels, envIDs(again.Batch))
	}
	if n := l.str(t, `SELECT count(*)::text FROM envelopes`); n != "3" {
		t.Fatalf("%s envelopes stored after two plans, want 3", n)
	}

	// b's card is spoiled at packing: its envelope is voided; remade, it gets label 02.
	l.move(t, cb[0], production.CardSpoiled)
	spoilt, err := l.store.PlanPickup(ctx, now, sched)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(spoilt.Voided, []EnvelopeID{EnvelopeID("E" + cb[0] + "01")}) || len(spoilt.Batch.Envelopes) != 2 {
		t.Fatalf("after spoiling: voided %v, %d envelopes", spoilt.Voided, len(spoilt.Batch.Envelopes))
	}
	batch := first.Batch.ID

	// Planning the next pickup before this one is dispatched leaves this batch whole.
	tomorrow, err := l.store.PlanPickup(ctx, first.Batch.CutOff.Add(time.Minute), sched)
	if err != nil {
		t.Fatal(err)
	}
	if len(tomorrow.Batch.Envelopes)+len(tomorrow.Batch.Parcels) != 0 || tomorrow.Elsewhere[batch] != 3 {
		t.Fatalf("next pickup planned before this one left: %d envelopes, %d parcels, elsewhere %v",
			len(tomorrow.Batch.Envelopes), len(tomorrow.Batch.Parcels), tomorrow.Elsewhere)
	}
	if n := l.str(t, `SELECT count(*)::text FROM envelopes WHERE batch_id = $1`, string(batch)); n != "2" {
		t.Fatalf("%s envelopes left in %s after planning the next pickup", n, batch)
	}

	// Packing: the QR codes are the printer's signed status URLs.
	pub, key, _ := ed25519.GenerateKey(nil)
	qr := func(card string) string {
		u, err := printer.StatusURL("https://status.example/k", key, card, time.Now().AddDate(2, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	cards := qrKey{pub}
	if _, _, err := l.store.Pack(ctx, "E"+ca[0]+"01", qr(ca[1]), cards, "packer"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong card packed: err = %v", err)
	}
	if st := l.str(t, `SELECT state FROM envelopes WHERE envelope_id = $1`, "E"+ca[0]+"01"); st != "planned" {
		t.Fatalf("after a mismatch the envelope is %s", st)
	}
	if _, _, err := l.store.Pack(ctx, "E"+cb[0]+"01", qr(cb[0]), cards, "packer"); err == nil || !strings.Contains(err.Error(), "VOID") {
		t.Fatalf("void envelope packed: err = %v", err)
	}
	if _, err := l.store.Dispatch(ctx, batch, time.Now(), "logistics", false); err == nil || !strings.Contains(err.Error(), "not packed") {
		t.Fatalf("dispatch with unpacked envelopes: err = %v", err)
	}
	for _, c := range ca {
		if _, already, err := l.store.Pack(ctx, "E"+c+"01", qr(c), cards, "packer"); err != nil || already {
			t.Fatalf("pack card %s: already %v, %v", c, already, err)
		}
	}
	if _, already, err := l.store.Pack(ctx, "E"+ca[0]+"01", qr(ca[0]), cards, "packer"); err != nil || !already {
		t.Fatalf("pack again: already %v, %v", already, err)
	}

	res, err := l.store.Dispatch(ctx, batch, time.Now(), "logistics", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Orders) != 1 || res.Orders[0].OrderID != a.OrderID || !res.Orders[0].MetDeadline || !res.Orders[0].Complete ||
		len(res.Orders[0].Envelopes) != 2 || len(res.Orders[0].ParcelIDs) != 1 {
		t.Fatalf("dispatch: %+v", res.Orders)
	}
	for _, c := range ca {
		if st := l.str(t, `SELECT state FROM cards WHERE card_number = $1`, c); st != "dispatched" {
			t.Errorf("card %s is %s after dispatch", c, st)
		}
		if n := l.str(t, `SELECT count(*)::text FROM audit_log WHERE entity = 'card' AND entity_id = $1 AND to_state = 'dispatched' AND actor = 'logistics'`, c); n != "1" {
			t.Errorf("card %s: %s dispatch audit entries", c, n)
		}
	}
	if st := l.str(t, `SELECT state FROM orders WHERE order_id = $1`, a.OrderID); st != "dispatched" {
		t.Errorf("order a is %s after dispatch", st)
	}
	events := func() []OrderDispatchedEvent {
		rows, err := l.pool.Query(ctx, `SELECT payload FROM `+bus.Table(TopicOrdersDispatched)+` ORDER BY "offset"`)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]OrderDispatchedEvent, len(raw))
		for i, r := range raw {
			if err := json.Unmarshal(r, &out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	if ev := events(); len(ev) != 1 || ev[0].OrderID != a.OrderID || ev[0].Envelopes[0].EnvelopeID != "E"+ca[0]+"01" || !ev[0].MetDeadline {
		t.Fatalf("events after dispatch: %+v", ev)
	}
	if again, err := l.store.Dispatch(ctx, batch, time.Now(), "someone else", false); err != nil || !again.Already || again.DispatchedBy != "logistics" {
		t.Fatalf("second dispatch: %+v, %v", again, err)
	}
	if n := len(events()); n != 1 {
		t.Fatalf("%d events after a second dispatch, want 1", n)
	}
	if after, err := l.store.PlanPickup(ctx, now, sched); err != nil || after.Batch.ID == batch || len(after.Batch.Envelopes) != 0 {
		t.Fatalf("planning after the batch left: %v; want the next pickup, empty", err)
	}

	// b's remade card ships with the next pickup, under label 02, handed over after b's deadline.
	l.move(t, cb[0], production.CardQueued)
	l.move(t, cb[0], toProduced...)
	next, err := l.store.PlanPickup(ctx, now, sched) // today's batch left: this is the next pickup's
	if err != nil {
		t.Fatal(err)
	}
	if got := envIDs(next.Batch); !slices.Equal(got, []string{"E" + cb[0] + "02"}) || next.Batch.ID == batch {
		t.Fatalf("remade card planned as %v in %s", got, next.Batch.ID)
	}
	if _, _, err := l.store.Pack(ctx, "E"+cb[0]+"02", qr(cb[0]), cards, "packer"); err != nil {
		t.Fatal(err)
	}
	deadline, _ := time.ParseInLocation(time.DateOnly, l.str(t, `SELECT dispatch_by::text FROM orders WHERE order_id = $1`, b.OrderID), l.cal.Zone())
	late, err := l.store.Dispatch(ctx, next.Batch.ID, deadline.Add(36*time.Hour), "logistics", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(late.Orders) != 1 || late.Orders[0].MetDeadline || !late.Orders[0].Complete {
		t.Fatalf("late dispatch: %+v", late.Orders)
	}
	// b was never moved by a station: dispatch walked it through the states it skipped.
	if got := l.str(t, `SELECT string_agg(to_state, ',' ORDER BY id) FROM audit_log WHERE entity = 'order' AND entity_id = $1`, b.OrderID); got != "accepted,in_production,produced,dispatched" {
		t.Errorf("order b's history: %s", got)
	}
	if met := l.str(t, `SELECT string_agg(met_deadline::text, ',' ORDER BY order_id) FROM order_dispatch`); met != map[bool]string{true: "true,false", false: "false,true"}[a.OrderID < b.OrderID] {
		t.Errorf("order_dispatch met_deadline: %s", met)
	}
}

// TestStoreHeldOrderLeavesBatch: an order planned whole, then one card spoiled while a later
// pickup still meets the deadline. The re-plan voids the spoiled card's envelope and takes the
// ready card's envelope out of the batch (one delivery per order); once remade, both go, the ready
// card under the envelope id it had, the remade one under the next label sequence.
func TestStoreHeldOrderLeavesBatch(t *testing.T) {
	l := openStoreLine(t)
	ctx := context.Background()
	o := production.NewSamples(8).Order(2, time.Now().Add(-time.Hour))
	c := l.intake(t, o)
	for _, n := range c {
		l.move(t, n, toProduced...)
	}
	sched := l.store.Schedule(15*time.Hour, 14*time.Hour)
	now := time.Now()
	if _, err := l.store.PlanPickup(ctx, now, sched); err != nil {
		t.Fatal(err)
	}
	l.move(t, c[1], production.CardSpoiled)
	held, err := l.store.PlanPickup(ctx, now, sched)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(held.Voided, []EnvelopeID{EnvelopeID("E" + c[1] + "01")}) || !slices.Equal(held.TakenOut, []string{"E" + c[0] + "01"}) ||
		len(held.Held) != 1 || !strings.Contains(held.Held[0].Reason, "waits for 1 card(s)") || len(held.Batch.Envelopes) != 0 {
		t.Fatalf("after a spoiled card: voided %v, taken out %v, held %+v, %d envelopes", held.Voided, held.TakenOut, held.Held, len(held.Batch.Envelopes))
	}
	l.move(t, c[1], production.CardQueued)
	l.move(t, c[1], toProduced...)
	whole, err := l.store.PlanPickup(ctx, now, sched)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range whole.Batch.Envelopes {
		got = append(got, string(e.ID))
	}
	if want := []string{"E" + c[0] + "01", "E" + c[1] + "02"}; !slices.Equal(got, want) || whole.NewEnvelopes != 1 {
		t.Fatalf("remade: envelopes %v (%d new), want %v (1 new)", got, whole.NewEnvelopes, want)
	}

	// One envelope cannot be found at the pickup: the batch goes without it, the order is not
	// complete yet, and the envelope goes with the next pickup under the same id.
	pub, key, _ := ed25519.GenerateKey(nil)
	u, _ := printer.StatusURL("https://status.example/k", key, c[0], time.Now().AddDate(2, 0, 0))
	if _, _, err := l.store.Pack(ctx, "E"+c[0]+"01", u, qrKey{pub}, "packer"); err != nil {
		t.Fatal(err)
	}
	d, err := l.store.Dispatch(ctx, whole.Batch.ID, time.Now(), "logistics", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Dropped, []EnvelopeID{EnvelopeID("E" + c[1] + "02")}) || len(d.Orders) != 1 || d.Orders[0].Complete || len(d.Orders[0].Envelopes) != 1 {
		t.Fatalf("dispatch without the unpacked envelope: dropped %v, orders %+v", d.Dropped, d.Orders)
	}
	if st := l.str(t, `SELECT state FROM orders WHERE order_id = $1`, o.OrderID); st != "accepted" {
		t.Errorf("order with a card still to go is %s", st)
	}
	rest, err := l.store.PlanPickup(ctx, now, sched)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Batch.Envelopes) != 1 || rest.Batch.Envelopes[0].ID != EnvelopeID("E"+c[1]+"02") || rest.Batch.ID == whole.Batch.ID || rest.NewEnvelopes != 0 {
		t.Fatalf("the rest: %+v in %s (%d new)", rest.Batch.Envelopes, rest.Batch.ID, rest.NewEnvelopes)
	}
}

// TestStoreConcurrentRuns: plans and dispatches started at once by several terminals record each
// envelope once and dispatch the batch once, with one event per order.
func TestStoreConcurrentRuns(t *testing.T) {
	l := openStoreLine(t)
	ctx := context.Background()
	s := production.NewSamples(9)
	var all []string
	for range 3 {
		cards := l.intake(t, s.Order(2, time.Now().Add(-time.Hour)))
		for _, c := range cards {
			l.move(t, c, toProduced...)
		}
		all = append(all, cards...)
	}
	sched := l.store.Schedule(15*time.Hour, 14*time.Hour)
	now := time.Now()
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := l.store.PlanPickup(ctx, now, sched); errs <- err }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := l.str(t, `SELECT count(*)::text FROM envelopes`); n != "6" {
		t.Fatalf("%s envelopes after four plans at once, want 6", n)
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	batch := l.str(t, `SELECT batch_id FROM shipping_batches`)
	for _, c := range all {
		u, _ := printer.StatusURL("https://status.example/k", key, c, time.Now().AddDate(2, 0, 0))
		if _, _, err := l.store.Pack(ctx, "E"+c+"01", u, qrKey{pub}, "packer"); err != nil {
			t.Fatal(err)
		}
	}
	results := make(chan *DispatchResult, 3)
	for range 3 {
		go func() {
			r, err := l.store.Dispatch(ctx, BatchID(batch), time.Now(), "logistics", false)
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	fresh := 0
	for range 3 {
		if r := <-results; r != nil && !r.Already {
			fresh++
		}
	}
	if n := l.str(t, `SELECT count(*)::text FROM `+bus.Table(TopicOrdersDispatched)); fresh != 1 || n != "3" {
		t.Fatalf("three dispatches at once: %d did the work, %s events; want 1 and 3", fresh, n)
	}
}

// A scan that lands while a dispatch takes the unpacked envelopes out: the envelope is either
// dispatched (packed in time) or left behind and reported so, never dispatched while the
// operator is told it stayed.
func TestScanDuringDispatchWithoutUnpacked(t *testing.T) {
	l := openStoreLine(t)
	ctx := context.Background()
	o := production.NewSamples(9).Order(2, time.Now().Add(-time.Hour))
	c := l.intake(t, o)
	for _, n := range c {
		l.move(t, n, toProduced...)
	}
	plan, err := l.store.PlanPickup(ctx, time.Now(), l.store.Schedule(15*time.Hour, 14*time.Hour))
	if err != nil || len(plan.Batch.Envelopes) != 2 {
		t.Fatalf("plan: %v, %+v", err, plan)
	}
	first, second := plan.Batch.Envelopes[0].ID, plan.Batch.Envelopes[1].ID
	pub, key, _ := ed25519.GenerateKey(nil)
	u, _ := printer.StatusURL("https://status.example/k", key, plan.Batch.Envelopes[0].CardNumber, time.Now().AddDate(2, 0, 0))
	if _, _, err := l.store.Pack(ctx, string(first), u, qrKey{pub}, "packer"); err != nil {
		t.Fatal(err)
	}
	// The second envelope's scan is under way: it holds the row, as Pack does, while the
	// dispatch starts.
	scan, err := l.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Rollback(ctx)
	if _, err := scan.Exec(ctx, `SELECT 1 FROM envelopes WHERE envelope_id = $1 FOR UPDATE`, string(second)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		d   *DispatchResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := l.store.Dispatch(ctx, plan.Batch.ID, time.Now(), "logistics", true)
		done <- result{d, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := l.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dispatch never waited for the scan")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := scan.Exec(ctx, `UPDATE envelopes SET state = 'packed', packed_at = now(), packed_by = 'packer', packed_scan = 'x' WHERE envelope_id = $1`, string(second)); err != nil {
		t.Fatal(err)
	}
	if err := scan.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	state := l.str(t, `SELECT state FROM envelopes WHERE envelope_id = $1`, string(second))
	if slices.Contains(r.d.Dropped, second) != (state != "dispatched") {
		t.Errorf("envelope %s is %s, and the dispatch reports it left behind: %v", second, state, slices.Contains(r.d.Dropped, second))
	}
	if state != "dispatched" {
		t.Errorf("envelope %s packed before the dispatch decided is %s, want dispatched", second, state)
	}
}

// Only the labels printed count as printed: a label added to the batch after they were laid out
// is not, so its first print is not reported as a reprint.
func TestLabelsPrintedAreTheOnesGiven(t *testing.T) {
	l := openStoreLine(t)
	ctx := context.Background()
	o := production.NewSamples(10).Order(2, time.Now().Add(-time.Hour))
	for _, n := range l.intake(t, o) {
		l.move(t, n, toProduced...)
	}
	plan, err := l.store.PlanPickup(ctx, time.Now(), l.store.Schedule(15*time.Hour, 14*time.Hour))
	if err != nil || len(plan.Batch.Envelopes) != 2 {
		t.Fatalf("plan: %v, %+v", err, plan)
	}
	labels := plan.Batch.Labels()
	if _, err := l.store.RecordLabelsPrinted(ctx, plan.Batch.ID, labels[:1]); err != nil {
		t.Fatal(err)
	}
	if n := l.str(t, `SELECT string_agg(envelope_id || '=' || labels_printed, ' ' ORDER BY envelope_id) FROM envelopes`); n != labels[0].ID+"=1 "+labels[1].ID+"=0" {
		t.Errorf("after printing the first label: %s", n)
	}
	reprinted, err := l.store.RecordLabelsPrinted(ctx, plan.Batch.ID, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reprinted, []string{labels[0].ID}) {
		t.Errorf("reprinted %v, want only %s", reprinted, labels[0].ID)
	}
}
