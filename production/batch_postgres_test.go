package production

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"cardline/internal/testsupport"
)

// openStore is a migrated store on a database of the test's own.
func openStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testsupport.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return NewStore(pool)
}

var fixtureSerial atomic.Int64

// seedOrder stores an accepted order of n queued cards straight in the tables (intake has its own
// tests), due on dispatchBy, and returns its card numbers in position order.
func seedOrder(t testing.TB, s *Store, id string, typ CardType, dispatchBy time.Time, n int) []CardNumber {
	t.Helper()
	ctx := context.Background()
	var out []CardNumber
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, payload_sha256, message_uuid, state, approved_at, card_type,
			org_number, company_name, orderer_name, orderer_email, delivery_address, dispatch_by)
			VALUES ($1, '\x00', $1, 'accepted', now(), $2, '923609016', 'Bygg og Rør AS', 'Kari Nordmann', 'kari@bygg.example',
			'{"name": "Bygg og Rør AS", "attention": "HR v/ Kari", "street": "Storgata 1", "postal_code": "0155", "city": "OSLO", "country": "NO"}', $3)`,
			id, string(typ), dispatchBy.Format(time.DateOnly)); err != nil {
			return err
		}
		for i := range n {
			num, err := NewCardNumber(fixtureSerial.Add(1) + 100000000)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO cards (card_number, order_id, position, holder_key, given_name, family_name,
				birth_date, gender, org_number, card_type, state) VALUES ($1, $2, $3, $4, 'Øyvind', 'Ødegård', '1990-05-17', 'M',
				'923609016', $5, 'queued')`, string(num), id, i, fmt.Sprintf("key-%s-%d", id, i), string(typ)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO card_photos (card_number, jpeg, width, height) VALUES ($1, '\xffd8', 600, 800)`, string(num)); err != nil {
				return err
			}
			out = append(out, num)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed order %s: %v", id, err)
	}
	return out
}

func (s *Store) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// batchCards is a batch's cards in print order.
func batchCards(t testing.TB, s *Store, id int64) []CardNumber {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "SELECT card_number FROM cards WHERE batch_id = $1 ORDER BY batch_position", id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[CardNumber])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }

func TestPlanPrintBatches(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	late := seedOrder(t, s, "A-2026-0000001", Construction, day(11, 27), 2)
	early := seedOrder(t, s, "A-2026-0000002", Construction, day(11, 25), 2)
	clean := seedOrder(t, s, "A-2026-0000003", Cleaning, day(11, 26), 1)
	risky := seedOrder(t, s, "A-2026-0000004", Construction, day(11, 30), 1)
	if _, err := s.pool.Exec(ctx, "UPDATE orders SET at_risk = true WHERE order_id = 'A-2026-0000004'"); err != nil {
		t.Fatal(err)
	}

	got, err := s.PlanPrintBatches(ctx, 3, "planner")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("planned %d batches, want 3 (construction: risky+early, late; cleaning)", len(got))
	}
	want := [][]CardNumber{append(risky, early...), late, clean}
	for i, b := range got {
		if cards := batchCards(t, s, b.ID); fmt.Sprint(cards) != fmt.Sprint(want[i]) {
			t.Errorf("batch %d (%s) holds %v, want %v", b.ID, b.CardType, cards, want[i])
		}
		if b.State != BatchPlanned {
			t.Errorf("batch %d is %s", b.ID, b.State)
		}
	}
	if !got[0].AtRisk || got[1].AtRisk || !got[0].EarliestDispatchBy.Equal(day(11, 25)) {
		t.Errorf("first batch: at risk %v, earliest %v; second at risk %v", got[0].AtRisk, got[0].EarliestDispatchBy, got[1].AtRisk)
	}
	if n := s.count(t, "SELECT count(*) FROM audit_log WHERE entity = 'batch' AND to_state = 'planned'"); n != 3 {
		t.Errorf("%d audit entries for planned batches, want 3", n)
	}

	// Idempotent: nothing new, nothing planned; a new order goes into a batch of its own.
	if again, err := s.PlanPrintBatches(ctx, 3, "planner"); err != nil || len(again) != 0 {
		t.Fatalf("re-plan: %d batches, %v; want none", len(again), err)
	}
	fresh := seedOrder(t, s, "A-2026-0000005", Construction, day(11, 24), 1)
	again, err := s.PlanPrintBatches(ctx, 3, "planner")
	if err != nil || len(again) != 1 || fmt.Sprint(batchCards(t, s, again[0].ID)) != fmt.Sprint(fresh) {
		t.Fatalf("plan after a new order: %v, %v; want one batch with %v", again, err, fresh)
	}

	list, err := s.ListBatches(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[0].ID != got[0].ID || list[1].ID != again[0].ID || list[0].Cards[CardQueued] != 3 || list[0].Total() != 3 {
		t.Errorf("list: %+v; want the at-risk batch first (3 queued), then the new one due 24 Nov", list)
	}

	// An order due the same day joins the last construction batch (the late one, 2 of 3), after its
	// cards; once the batch is started it takes nothing.
	later := seedOrder(t, s, "A-2026-0000006", Construction, day(11, 27), 1)
	topped, err := s.PlanPrintBatches(ctx, 3, "planner")
	if err != nil || len(topped) != 1 || topped[0].ID != got[1].ID || topped[0].Added != 1 || topped[0].Total() != 3 {
		t.Fatalf("plan of a later order: %+v, %v; want batch %d topped up with 1 card (3 in all)", topped, err, got[1].ID)
	}
	if cards := batchCards(t, s, got[1].ID); fmt.Sprint(cards) != fmt.Sprint(append(append([]CardNumber{}, late...), later...)) {
		t.Errorf("topped-up batch holds %v, want %v then %v", cards, late, later)
	}
	if n := s.count(t, "SELECT count(*) FROM audit_log WHERE entity = 'batch' AND reason = 'topped up with 1 construction cards'"); n != 1 {
		t.Errorf("%d audit entries for the top-up, want 1", n)
	}
	if err := s.StartBatch(ctx, got[1].ID, "operator"); err != nil {
		t.Fatal(err)
	}
	last := seedOrder(t, s, "A-2026-0000007", Construction, day(11, 27), 1)
	behind, err := s.PlanPrintBatches(ctx, 3, "planner")
	if err != nil || len(behind) != 1 || behind[0].ID == got[1].ID || behind[0].Added != 1 ||
		fmt.Sprint(batchCards(t, s, behind[0].ID)) != fmt.Sprint(last) {
		t.Fatalf("plan behind a started batch: %+v, %v; want a new batch with %v", behind, err, last)
	}
}

func TestPlanConcurrentlyBatchesEachCardOnce(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for i := range 20 {
		seedOrder(t, s, fmt.Sprintf("A-2026-%07d", i+1), CardType([]CardType{Construction, Cleaning}[i%2]), day(11, 24+i%5), 1+i%3)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := s.PlanPrintBatches(ctx, 5, "planner")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.count(t, "SELECT count(*) FROM cards WHERE batch_id IS NULL"); n != 0 {
		t.Errorf("%d cards left unbatched", n)
	}
	if n := s.count(t, "SELECT count(*) FROM (SELECT batch_id FROM cards GROUP BY batch_id HAVING count(*) > 5) x"); n != 0 {
		t.Errorf("%d batches over the size", n)
	}
	if n := s.count(t, "SELECT count(*) FROM print_batches b WHERE NOT EXISTS (SELECT 1 FROM cards c WHERE c.batch_id = b.batch_id)"); n != 0 {
		t.Errorf("%d empty batches: two planners saw the same cards", n)
	}
}

func TestBatchLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cards := seedOrder(t, s, "A-2026-0000001", Transport, day(11, 25), 3)
	planned, err := s.PlanPrintBatches(ctx, 10, "planner")
	if err != nil || len(planned) != 1 {
		t.Fatalf("plan: %v, %v", planned, err)
	}
	id := planned[0].ID

	if err := s.ResumeBatch(ctx, id, "op"); err == nil {
		t.Error("resumed a planned batch")
	}
	if err := s.PauseBatch(ctx, id, "op", ""); err == nil {
		t.Error("paused a planned batch")
	}
	if err := s.StartBatch(ctx, id, "op"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartBatch(ctx, id, "op"); err == nil {
		t.Error("started a started batch")
	}
	if err := s.PauseBatch(ctx, id, "op", "jam"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartBatch(ctx, id, "op"); err == nil {
		t.Error("start of a paused batch: want resume")
	}
	if err := s.ResumeBatch(ctx, id, "op"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartBatch(ctx, 9999, "op"); !errors.Is(err, ErrNoSuchBatch) {
		t.Errorf("start of a batch that does not exist: %v", err)
	}

	// One card produced, one at a station, one queued: close refuses, then force returns the queued one.
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, to := range []CardState{CardInProduction, CardEncoded, CardPrinted, CardProduced} {
			if _, err := TransitionCard(ctx, tx, cards[0], to, "station:test", ""); err != nil {
				return err
			}
		}
		_, err := TransitionCard(ctx, tx, cards[1], CardInProduction, "station:test", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CloseBatch(ctx, id, "op", false, "")
	var ue *UnfinishedBatchError
	if !errors.As(err, &ue) || ue.Unfinished[CardQueued] != 1 || ue.Unfinished[CardInProduction] != 1 {
		t.Fatalf("close with unfinished cards: %v, want an UnfinishedBatchError with 1 queued and 1 in production", err)
	}
	res, err := s.CloseBatch(ctx, id, "op", true, "end of shift")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Returned) != fmt.Sprint(cards[2:]) {
		t.Errorf("returned %v, want %v", res.Returned, cards[2:])
	}
	if n := s.count(t, "SELECT count(*) FROM cards WHERE batch_id = $1", id); n != 2 {
		t.Errorf("%d cards left in the closed batch, want the produced one and the one at a station", n)
	}
	if err := s.ResumeBatch(ctx, id, "op"); err == nil {
		t.Error("resumed a closed batch")
	}
	var trail string
	if err := s.pool.QueryRow(ctx, `SELECT string_agg(coalesce(from_state, '') || '>' || to_state, ' ' ORDER BY id)
		FROM audit_log WHERE entity = 'batch' AND entity_id = $1`, fmt.Sprint(id)).Scan(&trail); err != nil {
		t.Fatal(err)
	}
	if want := ">planned planned>started started>paused paused>started started>closed"; trail != want {
		t.Errorf("audit trail %q, want %q", trail, want)
	}

	// The returned card, and the one at a station once it is remade, are planned anew.
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := TransitionCard(ctx, tx, cards[1], CardSpoiled, "station:test", "jam"); err != nil {
			return err
		}
		_, err := TransitionCard(ctx, tx, cards[1], CardQueued, "station:test", "remake")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.PlanPrintBatches(ctx, 10, "planner")
	if err != nil || len(next) != 1 || fmt.Sprint(batchCards(t, s, next[0].ID)) != fmt.Sprint(cards[1:]) {
		t.Fatalf("re-plan after a forced close: %v, %v; want one batch with %v", next, err, cards[1:])
	}
	if _, err := s.CloseBatch(ctx, next[0].ID, "op", false, ""); err == nil {
		t.Error("closed a planned batch with queued cards without force")
	}
}

func TestClaimNextCard(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	later := seedOrder(t, s, "A-2026-0000001", Construction, day(11, 27), 3)
	sooner := seedOrder(t, s, "A-2026-0000002", Construction, day(11, 25), 3)
	cleaning := seedOrder(t, s, "A-2026-0000003", Cleaning, day(11, 24), 2)
	batches, err := s.PlanPrintBatches(ctx, 3, "planner")
	if err != nil || len(batches) != 3 {
		t.Fatalf("plan: %v, %v", batches, err)
	}
	claim := func(types ...CardType) *Card {
		t.Helper()
		var c *Card
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			var ct CardType
			if c, ct, err = s.ClaimNextCard(ctx, tx, types); err != nil || c == nil {
				return err
			}
			if !slices.Contains(types, ct) {
				return fmt.Errorf("claimed %s of type %s for a station loaded with %v", c.Number, ct, types)
			}
			_, err = TransitionCard(ctx, tx, c.Number, CardInProduction, "station:test", "")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := claim(Construction, Cleaning, Transport); c != nil {
		t.Fatalf("claimed %s from planned batches", c.Number)
	}
	for _, b := range batches {
		if err := s.StartBatch(ctx, b.ID, "op"); err != nil {
			t.Fatal(err)
		}
	}
	if c := claim(Construction); c == nil || c.Number != sooner[0] || c.Holder.GivenName != "Øyvind" || c.OrderID != "A-2026-0000002" {
		t.Fatalf("first construction claim: %+v, want %s of the order due first", c, sooner[0])
	}
	if c := claim(Transport); c != nil {
		t.Errorf("a transport station claimed %s", c.Number)
	}
	if c := claim(Cleaning); c == nil || c.Number != cleaning[0] {
		t.Errorf("cleaning claim: %+v, want %s", c, cleaning[0])
	}

	// Paused: nothing from that batch, the next batch instead.
	if err := s.PauseBatch(ctx, batches[0].ID, "op", ""); err != nil {
		t.Fatal(err)
	}
	if c := claim(Construction); c == nil || c.Number != later[0] {
		t.Errorf("claim with the first batch paused: %+v, want %s", c, later[0])
	}
	if err := s.ResumeBatch(ctx, batches[0].ID, "op"); err != nil {
		t.Fatal(err)
	}

	// Concurrent claimers, each holding its transaction open: never the same card, no waiting.
	const stations = 4
	held := make(chan pgx.Tx, stations)
	got := make(chan CardNumber, stations)
	var wg sync.WaitGroup
	for range stations {
		wg.Go(func() {
			tx, err := s.pool.Begin(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			held <- tx
			c, _, err := s.ClaimNextCard(ctx, tx, []CardType{Construction})
			if err != nil {
				t.Error(err)
				return
			}
			if c != nil {
				got <- c.Number
			}
		})
	}
	wg.Wait()
	close(held)
	close(got)
	seen := map[CardNumber]bool{}
	for n := range got {
		if seen[n] {
			t.Errorf("card %s claimed twice", n)
		}
		seen[n] = true
	}
	// Left: sooner[1], sooner[2], later[1], later[2].
	if len(seen) != 4 {
		t.Errorf("%d distinct cards claimed by %d stations, want 4", len(seen), stations)
	}
	for tx := range held {
		tx.Rollback(ctx)
	}
}

// A batch paused between the two halves of a claim (the list of started batches, then the card)
// gives no card: a station takes cards from started batches only.
func TestClaimSkipsBatchPausedMeanwhile(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	seedOrder(t, s, "A-2026-0000201", Construction, time.Now().AddDate(0, 0, 3), 2)
	batches, err := s.PlanPrintBatches(ctx, 10, "test")
	if err != nil || len(batches) != 1 {
		t.Fatalf("plan: %v, %v", batches, err)
	}
	if err := s.StartBatch(ctx, batches[0].ID, "test"); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	listed := queueClaimBatches(b, []CardType{Construction})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil || len(*listed) != 1 {
		t.Fatalf("started batches: %v, %v", *listed, err)
	}
	if err := s.PauseBatch(ctx, batches[0].ID, "test", "ribbon change"); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, _, err := claimFromBatches(ctx, tx, *listed, []CardType{Construction})
		if err == nil && c != nil {
			t.Errorf("card %s claimed from a paused batch", c.Number)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A count while a station has a blank out of the hopper (fed, at the coupler or in the printer,
// booked only when the card leaves) checks the hopper against the book less that blank: no
// blank is reported missing. A card claimed and not fed has its blank still in the hopper.
func TestCountWithACardInHand(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	cards := seedOrder(t, s, "A-2026-0000301", Construction, time.Now().AddDate(0, 0, 3), 2)
	if _, err := s.pool.Exec(ctx, `INSERT INTO stations (name, printer_uri, reader, card_types) VALUES ('st1', 'ipp://x', 'r', '{construction}')`); err != nil {
		t.Fatal(err)
	}
	if err := s.LoadBlanks(ctx, "st1", Construction, 10, "operator"); err != nil {
		t.Fatal(err)
	}
	for i, step := range []string{"printed", "claimed"} {
		if _, err := s.pool.Exec(ctx, `INSERT INTO card_attempts (card_number, attempt, station, step) VALUES ($1, 1, 'st1', $2)`,
			string(cards[i]), step); err != nil {
			t.Fatal(err)
		}
	}
	line, err := s.CountBlanks(ctx, "st1", Construction, 9, "operator")
	if err != nil {
		t.Fatal(err)
	}
	if line.Remaining != 10 || line.BookAtCount != 9 || line.Difference() != 0 {
		t.Errorf("count of 9 with one card in the printer: %+v (difference %d), want the book at 9 and no difference", line, line.Difference())
	}
	// The card leaves and its blank is booked: the last count still balances, as read back.
	if _, err := s.pool.Exec(ctx, `INSERT INTO blank_stock (station, card_type, kind, quantity, card_number, by) VALUES ('st1', 'construction', 'produced', 1, $1, 'st1')`,
		string(cards[0])); err != nil {
		t.Fatal(err)
	}
	lines, err := s.Stock(ctx)
	if err != nil || len(lines) != 1 || lines[0].Difference() != 0 || lines[0].Remaining != 9 {
		t.Errorf("stock after the card left: %+v, %v", lines, err)
	}
}
