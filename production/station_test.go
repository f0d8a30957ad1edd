package production

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"cardline/encoder"
	"cardline/internal/testsupport"
	"cardline/printer"
)

// station is one station's real parts for a test: a vpcd slot of the test binary's private
// pcscd with the virtual transport, and an ippeveprinter.
type station struct {
	name      string
	reader    string
	slot      *encoder.VirtualReader
	enc       *encoder.Station
	transport *encoder.VirtualTransport
	vp        *printer.VirtualPrinter // nil in a crash-test child: the parent owns the printer
	client    *printer.Client
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quietLog()
}

// openStation connects slot i of the pcscd at vpcdAddr and the printer at printerURI.
func openStation(t testing.TB, name string, i int, vpcdAddr, printerURI string) *station {
	t.Helper()
	reader := [2]string{encoder.VirtualReader0, encoder.VirtualReader1}[i]
	enc, err := encoder.NewStation(reader, encoder.DevKeys(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	slot := encoder.NewVirtualReader(vpcdAddr, quietLog())
	t.Cleanup(slot.Remove)
	client, err := printer.NewClient(printerURI, printer.ClientOptions{PollInterval: 50 * time.Millisecond, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	return &station{name: name, reader: reader, slot: slot, enc: enc, transport: encoder.NewVirtualTransport(slot, enc), client: client}
}

// newStation starts a virtual printer and opens slot i of the shared pcscd.
func newStation(t testing.TB, name string, i int) *station {
	t.Helper()
	d := testsupport.SharedPCSCD(t)
	vp := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{Logger: quietLog()})
	s := openStation(t, name, i, d.VPCDAddr(i), vp.URI)
	s.vp = vp
	return s
}

func testRenderer(t testing.TB) *printer.Renderer {
	t.Helper()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	r, err := printer.NewRenderer(printer.Options{StatusBaseURL: "https://status.example/k", SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (l *line) worker(t testing.TB, s *station, types ...CardType) *StationWorker {
	if len(types) == 0 {
		types = []CardType{Construction}
	}
	return &StationWorker{
		Config:    StationConfig{Name: s.name, PrinterURI: s.client.URI(), Reader: s.reader, CardTypes: types},
		Store:     NewStore(l.pool),
		Bus:       l.bus,
		Encoder:   s.enc,
		Printer:   s.client,
		Transport: s.transport,
		Renderer:  testRenderer(t),
		Log:       testLog(t),
		Poll:      50 * time.Millisecond,
	}
}

// run starts w until the test ends (or the returned stop is called).
func run(t testing.TB, w *StationWorker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("station %s: %v", w.Config.Name, err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// seedCards stores orders of the given card type with n cards in all (through intake's own
// Process) and puts every queued card of that type in one started batch. It returns the numbers.
func (l *line) seedCards(t testing.TB, typ CardType, perOrder ...int) []CardNumber {
	t.Helper()
	ctx := context.Background()
	if err := l.bus.InitTopics(ctx, IntakeConsumerGroup, OutputTopics...); err != nil {
		t.Fatal(err)
	}
	cal, err := NewBusinessDays()
	if err != nil {
		t.Fatal(err)
	}
	in := &Intake{Bus: l.bus, Log: quietLog(), Now: time.Now,
		Validator: &Validator{HolderSecret: []byte("test-secret"), Calendar: cal, Now: time.Now}}
	s := NewSamples(uint64(time.Now().UnixNano()))
	for i, n := range perOrder {
		m := s.Order(n, time.Now().Add(-time.Hour))
		m.OrderID = fmt.Sprintf("S-%d-%d", time.Now().UnixNano()%1e9, i)
		m.CardType = string(typ)
		if err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
			out, _, err := in.Process(ctx, tx, m.OrderID, marshal(t, m))
			if err == nil && out != OutcomeAccepted {
				err = fmt.Errorf("order %s: %s", m.OrderID, out)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var batch int64
	if err := l.pool.QueryRow(ctx, `INSERT INTO print_batches (card_type, state, created_by) VALUES ($1, 'started', 'test') RETURNING batch_id`,
		string(typ)).Scan(&batch); err != nil {
		t.Fatal(err)
	}
	rows, err := l.pool.Query(ctx, `UPDATE cards SET batch_id = $1, batch_position = sub.pos FROM
		(SELECT card_number, row_number() OVER (ORDER BY card_number) AS pos FROM cards WHERE state = 'queued' AND card_type = $2 AND batch_id IS NULL) sub
		WHERE cards.card_number = sub.card_number RETURNING cards.card_number`, batch, string(typ))
	if err != nil {
		t.Fatal(err)
	}
	numbers, err := pgx.CollectRows(rows, pgx.RowTo[CardNumber])
	if err != nil {
		t.Fatal(err)
	}
	return numbers
}

// counter is the value of the counter name of station st1 whose other label is label.
func counter(t testing.TB, m *Metrics, name, label string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, c := range mf.GetMetric() {
			var st, other bool
			for _, l := range c.GetLabel() {
				st = st || (l.GetName() == "station" && l.GetValue() == "st1")
				other = other || (l.GetName() != "station" && l.GetValue() == label)
			}
			if st && other {
				return c.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// waitUntil polls query (a count) until it reaches want.
func (l *line) waitUntil(t testing.TB, want int, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := l.count(t, query, args...)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d, want %d: %s", n, want, query)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkProducedOnce asserts the rules that hold after any run: every card produced exactly once,
// one good chip per produced card, no card number on two good chips, one CardProduced event each.
func (l *line) checkProducedOnce(t testing.TB, cards []CardNumber) {
	t.Helper()
	for _, n := range cards {
		if st := l.count(t, `SELECT count(*) FROM cards WHERE card_number = $1 AND state = 'produced' AND station IS NULL AND expiry IS NOT NULL`, string(n)); st != 1 {
			t.Errorf("card %s is not produced (with expiry, off the station)", n)
		}
		if c := l.count(t, `SELECT count(*) FROM card_chips WHERE card_number = $1 AND state = 'good'`, string(n)); c != 1 {
			t.Errorf("card %s has %d good chips, want 1", n, c)
		}
		if c := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND outcome = 'produced'`, string(n)); c != 1 {
			t.Errorf("card %s has %d produced attempts, want 1", n, c)
		}
	}
	seen := map[string]int{}
	for _, e := range l.events(t, TopicCardsProduced) {
		seen[e["card_number"].(string)]++
	}
	for _, n := range cards {
		if seen[string(n)] != 1 {
			t.Errorf("card %s: %d CardProduced events, want 1", n, seen[string(n)])
		}
	}
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE outcome IS NULL`); n != 0 {
		t.Errorf("%d attempts left open", n)
	}
}

func TestStationProducesCards(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	s := newStation(t, "st1", 0)
	cards := l.seedCards(t, Construction, 2, 1)
	run(t, l.worker(t, s))
	l.waitUntil(t, len(cards), `SELECT count(*) FROM cards WHERE state = 'produced'`)
	l.checkProducedOnce(t, cards)
	if n := l.count(t, `SELECT count(*) FROM orders WHERE state = 'produced'`); n != 2 {
		t.Errorf("%d orders produced, want 2", n)
	}
	if n := l.count(t, `SELECT count(*) FROM audit_log WHERE entity = 'order' AND to_state = 'in_production'`); n != 2 {
		t.Errorf("%d orders went in_production, want 2", n)
	}

	// Every card in the output tray reads back through the reader as an access system reads it.
	out := s.transport.Output()
	if len(out) != len(cards) {
		t.Fatalf("%d cards in the output tray, want %d", len(out), len(cards))
	}
	ctx := context.Background()
	for i, c := range out {
		s.slot.Insert(c)
		if _, err := s.enc.WaitForCard(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := encoder.ReadCard(ctx, s.reader, encoder.DevKeys().Verifier())
		s.slot.Remove()
		if err := s.enc.WaitForRemoval(ctx); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("output card %d: %v", i, err)
		}
		if !res.Record.Verified {
			t.Errorf("output card %d: signature not verified", i)
		}
		n := res.Record.CardNumber
		if l.count(t, `SELECT count(*) FROM card_chips WHERE card_number = $1 AND uid = $2 AND state = 'good'`, n, res.UID) != 1 {
			t.Errorf("output card %d: chip %X is not the good chip of card %s", i, res.UID, n)
		}
		if l.count(t, `SELECT count(*) FROM cards WHERE card_number = $1 AND expiry = $2`, n, res.Record.Expiry.Format(time.DateOnly)) != 1 {
			t.Errorf("card %s: chip expiry %s is not the stored one", n, res.Record.Expiry.Format(time.DateOnly))
		}
	}
	// The printer received one job per card, named by its number and attempt, with the stripe's tracks.
	for i := 1; i <= len(cards); i++ {
		j, err := s.vp.Job(i)
		if err != nil {
			t.Fatal(err)
		}
		name, attempt, _ := strings.Cut(j.Attributes["IPP_JOB_NAME"], "-")
		if l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND attempt::text = $2 AND print_job_id = $3`, name, attempt, i) != 1 {
			t.Errorf("job %d is named %q, not a produced card's number and attempt", i, j.Attributes["IPP_JOB_NAME"])
		}
		if !strings.Contains(j.Attributes["IPP_X_CARDLINE_MAGNETIC_TRACKS"], name) || len(j.Document) == 0 {
			t.Errorf("job %d: no document or no tracks with the card number: %v", i, j.Attributes)
		}
	}
	if n := l.count(t, `SELECT coalesce(sum(quantity), 0) FROM blank_stock WHERE kind = 'produced' AND station = 'st1'`); n != len(cards) {
		t.Errorf("%d blanks booked produced, want %d", n, len(cards))
	}
}

// A chip that does not take its data and a print job that jams each send the card to the reject
// tray: its chip is void, the card is remade on a new blank under the same number.
func TestStationRemakesFailedCards(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	s := newStation(t, "st1", 0)
	cards := l.seedCards(t, Construction, 2)
	s.transport.QueueFaults(encoder.Faults{LoseWrite: 3}) // first blank: a write that does not stick
	store := NewStore(l.pool)
	if err := store.LoadBlanks(context.Background(), "st1", Construction, 10, "operator"); err != nil {
		t.Fatal(err)
	}
	w := l.worker(t, s)
	metrics := NewMetrics(nil)
	w.Metrics = metrics
	jammed := false
	w.afterStep = func(step string) {
		// The second card's first job jams.
		if step == stepEncoded && !jammed && l.count(t, `SELECT count(*) FROM cards WHERE state = 'produced'`) == 1 {
			jammed = true
			if err := s.vp.SetFault("jam"); err != nil {
				t.Error(err)
			}
		}
		if step == stepPrintSubmitted && jammed {
			go func() { time.Sleep(300 * time.Millisecond); s.vp.SetFault("") }()
		}
	}
	run(t, w)
	l.waitUntil(t, len(cards), `SELECT count(*) FROM cards WHERE state = 'produced'`)
	l.checkProducedOnce(t, cards)

	spoiled := l.events(t, TopicCardsSpoiled)
	if len(spoiled) != 2 {
		t.Fatalf("%d CardSpoiled events, want 2: %v", len(spoiled), spoiled)
	}
	if r := spoiled[0]["reason"].(string); !strings.Contains(r, "chip") || spoiled[0]["remade"] != true {
		t.Errorf("first spoil: %v", spoiled[0])
	}
	if r := spoiled[1]["reason"].(string); !strings.Contains(r, "jam") || spoiled[1]["remade"] != true {
		t.Errorf("second spoil: %v", spoiled[1])
	}
	for _, e := range spoiled {
		n := e["card_number"].(string)
		if l.count(t, `SELECT count(*) FROM card_chips WHERE card_number = $1 AND state = 'void'`, n) != 1 {
			t.Errorf("card %s: want its first chip void", n)
		}
		if l.count(t, `SELECT count(DISTINCT uid) FROM card_chips WHERE card_number = $1`, n) != 2 {
			t.Errorf("card %s: want two chips (void and good) with different UIDs", n)
		}
	}
	if n := len(s.transport.Rejects()); n != 2 {
		t.Errorf("%d cards in the reject tray, want 2", n)
	}
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"cardline_station_cards_total", "produced", 2},
		{"cardline_station_cards_total", "spoiled", 2},
		{"cardline_station_faults_total", "verify", 1},
		{"cardline_station_faults_total", "jam", 1},
	} {
		if got := counter(t, metrics, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
	// The blank stock book: 10 loaded = 2 produced + 2 spoiled + 6 remaining; a count of 5 at
	// shift close is one short, and reported so.
	line, err := store.CountBlanks(context.Background(), "st1", Construction, 5, "operator")
	if err != nil {
		t.Fatal(err)
	}
	if line.Loaded != 10 || line.Produced != 2 || line.Spoiled != 2 || line.Remaining != 6 || line.Difference() != -1 {
		t.Errorf("stock %+v, want 10 = 2 + 2 + 6 and the count of 5 one short", line)
	}
	if _, err := store.CountBlanks(context.Background(), "st1", "paper", 5, "operator"); err == nil {
		t.Error("a count of an unknown card type was booked")
	}
}

// A card that keeps failing is not remade for ever: after MaxAttempts blanks it stays spoiled
// with a hold for an operator, and the station takes the next card.
func TestStationHoldsCardAfterRetryLimit(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	s := newStation(t, "st1", 0)
	cards := l.seedCards(t, Construction, 1)
	s.transport.QueueFaults(encoder.Faults{ATR: encoder.ATR1K()}, encoder.Faults{ATR: encoder.ATR1K()})
	w := l.worker(t, s)
	w.Config.MaxAttempts = 2
	run(t, w)
	l.waitUntil(t, 1, `SELECT count(*) FROM cards WHERE state = 'spoiled' AND hold IS NOT NULL`)
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND outcome = 'spoiled'`, string(cards[0])); n != 2 {
		t.Errorf("%d spoiled attempts, want 2", n)
	}
	spoiled := l.events(t, TopicCardsSpoiled)
	if len(spoiled) != 2 || spoiled[0]["remade"] != true || spoiled[1]["remade"] != false {
		t.Errorf("CardSpoiled events %v, want the first remade and the second not", spoiled)
	}
	more := l.seedCards(t, Construction, 1)
	l.waitUntil(t, 1, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	l.checkProducedOnce(t, more)

	// The operator sees it, and releases it once the cause is dealt with: queued again, out of
	// its batch, with a fresh set of attempts (one more failure is remade, not held at once).
	ctx := context.Background()
	store := NewStore(l.pool)
	held, err := store.HeldCards(ctx)
	if err != nil || len(held) != 1 || held[0].Number != cards[0] || held[0].Attempts != 2 || !strings.Contains(held[0].Hold, "spoiled 2 times") {
		t.Fatalf("held cards: %+v, %v; want %s after 2 attempts", held, err, cards[0])
	}
	if err := store.ReleaseCard(ctx, cards[0], "op", " "); err == nil || !strings.Contains(err.Error(), "reason: required") {
		t.Errorf("release without a reason: %v", err)
	}
	if err := store.ReleaseCard(ctx, more[0], "op", "looked"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("release of a produced card: %v, want ErrNotHeld", err)
	}
	if err := store.ReleaseCard(ctx, cards[0], "op", "swapped the blank stock"); err != nil {
		t.Fatal(err)
	}
	if n := l.count(t, `SELECT count(*) FROM cards WHERE card_number = $1 AND state = 'queued' AND hold IS NULL AND batch_id IS NULL`, string(cards[0])); n != 1 {
		t.Fatalf("released card is not queued outside a batch")
	}
	if n := l.count(t, `SELECT count(*) FROM audit_log WHERE entity_id = $1 AND actor = 'op' AND reason LIKE 'released: swapped the blank stock%'`, string(cards[0])); n != 1 {
		t.Errorf("release not audited")
	}
	if held, err := store.HeldCards(ctx); err != nil || len(held) != 0 {
		t.Errorf("held after release: %+v, %v", held, err)
	}
	s.transport.QueueFaults(encoder.Faults{ATR: encoder.ATR1K()})
	l.seedCards(t, Construction) // a started batch for it
	l.waitUntil(t, 2, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	l.checkProducedOnce(t, []CardNumber{cards[0], more[0]})
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND outcome = 'spoiled'`, string(cards[0])); n != 3 {
		t.Errorf("%d spoiled attempts in all, want 3 (2 before the release, 1 after)", n)
	}
}

// A station removed from service is retired: lists no longer show it, and it cannot be retired
// while it is parked; a worker starting under its name brings it back.
func TestRetireStation(t *testing.T) {
	ctx := context.Background()
	l := openLine(t, testsupport.Postgres(t))
	store := NewStore(l.pool)
	for _, q := range []string{
		`INSERT INTO stations (name, printer_uri, reader, card_types) VALUES ('old', 'ipp://x', 'r', '{construction}')`,
		`INSERT INTO stations (name, printer_uri, reader, card_types, state, fault) VALUES ('stuck', 'ipp://y', 'r', '{construction}', 'parked', 'jam')`,
	} {
		if _, err := l.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.RetireStation(ctx, "stuck", "op"); err == nil || !strings.Contains(err.Error(), "parked") {
		t.Errorf("retiring a parked station: %v", err)
	}
	if err := store.RetireStation(ctx, "nope", "op"); err == nil || !strings.Contains(err.Error(), "no such station") {
		t.Errorf("retiring an unknown station: %v", err)
	}
	if err := store.RetireStation(ctx, "old", "op"); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		sts, err := store.Stations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range sts {
			out = append(out, s.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"stuck"}) {
		t.Errorf("stations listed after retiring old: %v", got)
	}
	s := newStation(t, "old", 0)
	stop := run(t, l.worker(t, s))
	l.waitUntil(t, 1, `SELECT count(*) FROM stations WHERE name = 'old' AND retired_at IS NULL`)
	if err := store.RetireStation(ctx, "old", "op"); err == nil || !strings.Contains(err.Error(), "worker is running") {
		t.Errorf("retiring a station whose worker runs: %v", err)
	}
	stop()
	if got := names(); !slices.Equal(got, []string{"old", "stuck"}) {
		t.Errorf("stations listed after old's worker started again: %v", got)
	}
}

// A station whose printer runs out of cards mid-job parks with its card; the other station
// carries on with the rest; clearing the fault resolves the parked card (its job was given up and
// canceled, so its chip is voided and it is remade).
func TestStationParksOnFaultOthersCarryOn(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	a, b := newStation(t, "a", 0), newStation(t, "b", 1)
	cards := l.seedCards(t, Construction, 4)
	if err := a.vp.SetFault("media-empty"); err != nil {
		t.Fatal(err)
	}
	stopA := run(t, l.worker(t, a))
	l.waitUntil(t, 1, `SELECT count(*) FROM stations WHERE name = 'a' AND state = 'parked'`)
	run(t, l.worker(t, b))
	l.waitUntil(t, len(cards)-1, `SELECT count(*) FROM cards WHERE state = 'produced'`)

	ctx := context.Background()
	stations, err := NewStore(l.pool).Stations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stations) != 2 || stations[0].Name != "a" || stations[0].State != StationParked ||
		!strings.Contains(stations[0].Fault, "Out of blank cards") || stations[0].ParkedCard == "" {
		t.Fatalf("stations: %+v, want a parked for media-empty with its card", stations)
	}
	parked := stations[0].ParkedCard
	if n := l.count(t, `SELECT count(*) FROM cards WHERE card_number = $1 AND state = 'encoded' AND station = 'a'`, parked); n != 1 {
		t.Errorf("parked card %s is not encoded on station a", parked)
	}
	if err := a.vp.SetFault(""); err != nil {
		t.Fatal(err)
	}
	if err := NewStore(l.pool).ClearStation(ctx, "a", "operator"); err != nil {
		t.Fatal(err)
	}
	l.waitUntil(t, len(cards), `SELECT count(*) FROM cards WHERE state = 'produced'`)
	stopA()
	l.checkProducedOnce(t, cards)
	if n := l.count(t, `SELECT count(*) FROM card_chips WHERE card_number = $1 AND state = 'void'`, parked); n != 1 {
		t.Errorf("parked card %s: %d void chips, want 1", parked, n)
	}
	if n := l.count(t, `SELECT count(*) FROM audit_log WHERE entity = 'station' AND entity_id = 'a'`); n != 2 {
		t.Errorf("%d station audit entries, want park and clear", n)
	}
	if err := NewStore(l.pool).ClearStation(ctx, "a", "operator"); err == nil {
		t.Error("clearing a station that is not parked succeeded")
	}
}

// A station whose reader is gone parks with the card it had taken, and takes no more.
func TestStationParksWhenReaderGone(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	s := newStation(t, "st1", 0)
	gone, err := encoder.NewStation("No Such Reader 00 00", encoder.DevKeys(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	s.enc, s.transport = gone, encoder.NewVirtualTransport(s.slot, gone)
	l.seedCards(t, Construction, 2)
	run(t, l.worker(t, s))
	l.waitUntil(t, 1, `SELECT count(*) FROM stations WHERE state = 'parked' AND parked_card IS NOT NULL AND fault LIKE '%reader not available%'`)
	time.Sleep(300 * time.Millisecond) // a parked station must not take the second card
	if n := l.count(t, `SELECT count(*) FROM cards WHERE state = 'queued'`); n != 1 {
		t.Errorf("%d cards queued, want 1 (one parked with the station, one untouched)", n)
	}
}

// The crash test runs a station worker in a child process (this test binary again) that exits
// abruptly right after a given step of its first card; the next run resolves what it left.
const (
	envStationDB      = "CARDLINE_TEST_STATION_DB"
	envStationPrinter = "CARDLINE_TEST_STATION_PRINTER"
	envStationVPCD    = "CARDLINE_TEST_STATION_VPCD"
	envStationCrash   = "CARDLINE_TEST_STATION_CRASH_AFTER"
)

func TestStationWorkerProcess(t *testing.T) {
	url := os.Getenv(envStationDB)
	if url == "" {
		t.Skip("runs only as the child of TestStationSurvivesCrashes")
	}
	crashAfter := os.Getenv(envStationCrash)
	l := openLine(t, url)
	s := openStation(t, "crashy", 0, os.Getenv(envStationVPCD), os.Getenv(envStationPrinter))
	w := l.worker(t, s)
	w.afterStep = func(step string) {
		if step == crashAfter {
			os.Exit(crashExitCode)
		}
	}
	stop := run(t, w)
	l.waitUntil(t, 0, `SELECT count(*) FROM cards WHERE state <> 'produced'`)
	stop()
}

func TestStationSurvivesCrashes(t *testing.T) {
	url := testsupport.Postgres(t)
	l := openLine(t, url)
	d := testsupport.SharedPCSCD(t)
	vp := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{Logger: quietLog()})
	cards := l.seedCards(t, Construction, 3, 2)

	crashes := []string{stepClaimed, stepFed, stepEncoded, stepPrintSubmitted, stepPrinted, "produced", ""}
	for _, after := range crashes {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStationWorkerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envStationDB+"="+url, envStationPrinter+"="+vp.URI,
			envStationVPCD+"="+d.VPCDAddr(0), envStationCrash+"="+after)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case after != "" && errors.As(err, &exit) && exit.ExitCode() == crashExitCode:
		case after == "" && err == nil:
		default:
			t.Fatalf("station (crash after %q): %v\n%s", after, err, out)
		}
		t.Logf("crash after %-16q: %d cards produced", after, l.count(t, `SELECT count(*) FROM cards WHERE state = 'produced'`))
	}
	l.checkProducedOnce(t, cards)
	// Crashes before the print job was known left cards that were voided and remade; crashes
	// after it completed were confirmed produced from the printer's record.
	spoiled := l.count(t, `SELECT count(*) FROM card_attempts WHERE outcome = 'spoiled' AND reason LIKE 'interrupted at step%'`)
	if spoiled != 3 {
		t.Errorf("%d attempts remade after a crash, want 3 (claimed, fed, encoded)", spoiled)
	}
	if n := l.count(t, `SELECT count(*) FROM card_chips WHERE state = 'void'`); n != 1 {
		t.Errorf("%d void chips, want 1 (the card encoded when the station died)", n)
	}
	if n := l.count(t, `SELECT count(*) FROM card_attempts a WHERE outcome = 'produced' AND attempt = 4`); n != 1 {
		t.Errorf("%d cards produced on their 4th attempt, want 1 (the one the first three crashes met)", n)
		rows, _ := l.pool.Query(context.Background(), `SELECT card_number, attempt, step, coalesce(outcome, ''), coalesce(reason, ''), coalesce(print_job_id, 0) FROM card_attempts ORDER BY attempt_id`)
		for rows.Next() {
			var n, step, out, reason string
			var a, job int
			rows.Scan(&n, &a, &step, &out, &reason, &job)
			t.Logf("%s #%d %s %s job %d %s", n, a, step, out, job, reason)
		}
	}
	if n := l.count(t, `SELECT count(*) FROM (SELECT card_number FROM card_chips WHERE state = 'good' GROUP BY card_number HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d card numbers on two good chips", n)
	}
}

// BenchmarkStationCards measures one virtual station (pcscd+vpcd, ippeveprinter) from claim to
// output tray; pcscd's 400 ms polling of vpcd for insert and removal dominates.
func BenchmarkStationCards(b *testing.B) {
	l := openLine(b, testsupport.Postgres(b))
	s := newStation(b, "bench", 0)
	l.seedCards(b, Construction, b.N)
	b.ResetTimer()
	start := time.Now()
	run(b, l.worker(b, s))
	l.waitUntil(b, b.N, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	b.ReportMetric(float64(b.N)/time.Since(start).Minutes(), "cards/min")
}

// lostJobID submits the first job to the printer, then fails as a process killed before it
// recorded the job's id would leave things.
type lostJobID struct {
	CardPrinter
	mu   sync.Mutex
	lost int
}

func (p *lostJobID) Submit(ctx context.Context, doc printer.Document) (int, error) {
	id, err := p.CardPrinter.Submit(ctx, doc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || p.lost != 0 {
		return id, err
	}
	p.lost = id
	return 0, errors.New("stopped between Print-Job and recording its id")
}

// A station that stopped after the printer took a card's job but before it recorded the job's id
// finds the job by its name on recovery: the card is produced from that job, not printed twice.
func TestRecoveryFindsUnrecordedJob(t *testing.T) {
	ctx := context.Background()
	l := openLine(t, testsupport.Postgres(t))
	a := newStation(t, "a", 0)
	cards := l.seedCards(t, Construction, 1)
	w := l.worker(t, a)
	p := &lostJobID{CardPrinter: a.client}
	w.Printer = p
	stop := run(t, w)
	l.waitUntil(t, 1, `SELECT count(*) FROM stations WHERE name = 'a' AND state = 'parked'`)
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND step = 'print_submitting' AND print_job_id IS NULL`,
		string(cards[0])); n != 1 {
		t.Fatalf("no attempt left at print_submitting without a job id")
	}
	if err := NewStore(l.pool).ClearStation(ctx, "a", "operator"); err != nil {
		t.Fatal(err)
	}
	l.waitUntil(t, 1, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	stop()
	l.checkProducedOnce(t, cards)
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1`, string(cards[0])); n != 1 {
		t.Errorf("%d attempts, want the one whose job was found", n)
	}
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND print_job_id = $2 AND outcome = 'produced'`,
		string(cards[0]), p.lost); n != 1 {
		t.Errorf("the attempt did not record the found job %d", p.lost)
	}
	jobs, err := a.client.JobsNamed(ctx, string(cards[0])+"-1")
	if err != nil || len(jobs) != 1 || jobs[0].JobID != p.lost || jobs[0].State != "completed" {
		t.Errorf("printer's jobs for the card: %+v, %v; want only job %d, completed", jobs, err, p.lost)
	}
}

// heldSubmit holds each Print-Job until the test lets it go.
type heldSubmit struct {
	CardPrinter
	in, proceed chan struct{}
}

func (p *heldSubmit) Submit(ctx context.Context, doc printer.Document) (int, error) {
	p.in <- struct{}{}
	<-p.proceed
	return p.CardPrinter.Submit(ctx, doc)
}

// A worker told to stop (SIGTERM) mid-card finishes the card in hand, blank and all, and takes
// no other.
func TestStationFinishesCardInHandOnStop(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	a := newStation(t, "a", 0)
	l.seedCards(t, Construction, 2)
	w := l.worker(t, a)
	p := &heldSubmit{CardPrinter: a.client, in: make(chan struct{}), proceed: make(chan struct{})}
	w.Printer = p
	stop := run(t, w)
	<-p.in // the first card is encoded and about to print
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(100 * time.Millisecond) // the stop is under way
	select {
	case <-stopped:
		t.Fatal("the worker stopped with a card in hand")
	default:
	}
	close(p.proceed)
	<-stopped
	if n := l.count(t, `SELECT count(*) FROM cards WHERE state = 'produced'`); n != 1 {
		t.Errorf("%d cards produced, want the one in hand", n)
	}
	if n := l.count(t, `SELECT count(*) FROM cards WHERE state = 'queued'`); n != 1 {
		t.Errorf("%d cards queued, want the other one untouched", n)
	}
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE outcome IS DISTINCT FROM 'produced'`); n != 0 {
		t.Errorf("%d attempts not produced", n)
	}
}

// More stations in one process than its pool has connections: each station's lock holds a
// connection of its own, so the work still gets the pool's (it hung when the locks held them).
func TestMoreStationsThanPoolConnections(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	cards := l.seedCards(t, Construction, 3, 3, 3)
	stations := int(l.pool.Config().MaxConns) + 1
	for i := range stations {
		parts, err := NewInstantStation(i+1, encoder.DevKeys())
		if err != nil {
			t.Fatal(err)
		}
		run(t, &StationWorker{
			Config: StationConfig{Name: fmt.Sprintf("instant-%d", i+1), PrinterURI: fmt.Sprintf("instant:%d", i+1), Reader: "instant",
				CardTypes: []CardType{Construction}},
			Store: NewStore(l.pool), Bus: l.bus, Encoder: parts, Printer: parts, Transport: parts, Renderer: testRenderer(t),
			Log: testLog(t), Poll: 20 * time.Millisecond,
		})
	}
	l.waitUntil(t, len(cards), `SELECT count(*) FROM cards WHERE state = 'produced'`)
	l.checkProducedOnce(t, cards)
	if n := l.count(t, `SELECT count(DISTINCT station) FROM card_attempts`); n < 2 {
		t.Errorf("the cards were made by %d station(s)", n)
	}
}

// The SLA sweep's capacity comes from what the stations in service did in the last hour: each
// one's produced cards over the time its attempts took; a retired station is not listed, one with
// too few attempts or none produced is unmeasured, and attempts older than the hour do not count.
func TestStationRates(t *testing.T) {
	ctx := context.Background()
	l := openLine(t, testsupport.Postgres(t))
	store := NewStore(l.pool)
	now := time.Now().Truncate(time.Second)
	if got, err := store.StationRates(ctx, now); err != nil || len(got) != 0 {
		t.Fatalf("with no station: %+v, %v", got, err)
	}
	cards := l.seedCards(t, Construction, 10)
	for _, q := range []string{
		`INSERT INTO stations (name, printer_uri, reader, card_types) VALUES ('a', 'ipp://a', 'r', '{construction}')`,
		`INSERT INTO stations (name, printer_uri, reader, card_types, state) VALUES ('parked', 'ipp://p', 'r', '{construction}', 'parked')`,
		`INSERT INTO stations (name, printer_uri, reader, card_types) VALUES ('few', 'ipp://f', 'r', '{construction,cleaning}')`,
		`INSERT INTO stations (name, printer_uri, reader, card_types, retired_at) VALUES ('gone', 'ipp://g', 'r', '{transport}', now())`,
		`INSERT INTO stations (name, printer_uri, reader, card_types) VALUES ('spoiling', 'ipp://s', 'r', '{transport}')`,
	} {
		if _, err := l.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	attempt := map[CardNumber]int{}
	add := func(station string, card CardNumber, endedAgo, took time.Duration, outcome string) {
		t.Helper()
		attempt[card]++
		end := now.Add(-endedAgo)
		if _, err := l.pool.Exec(ctx, `INSERT INTO card_attempts (card_number, attempt, station, step, outcome, started_at, ended_at)
			VALUES ($1, $2, $3, 'ejected', $4, $5, $6)`, string(card), attempt[card], station, outcome, end.Add(-took), end); err != nil {
			t.Fatal(err)
		}
	}
	// a: 9 produced and 1 spoiled, a minute each, in the last hour: 9 cards in 10 minutes = 54 an hour;
	// plus old work that no longer counts.
	for i := range 10 {
		outcome := "produced"
		if i == 0 {
			outcome = "spoiled"
		}
		add("a", cards[i], time.Duration(i+1)*time.Minute, time.Minute, outcome)
		add("a", cards[i], 2*time.Hour, time.Hour/10, "spoiled")
	}
	for i := range 10 {
		add("parked", cards[i], time.Minute, time.Second, "produced")
	}
	for i := range capacityMinAttempts - 1 {
		add("few", cards[i], time.Minute, time.Second, "produced")
	}
	for i := range capacityMinAttempts {
		add("spoiling", cards[i], time.Minute, time.Second, "spoiled")
	}
	// An attempt resolved by recovery after a long park: not the station's speed.
	if _, err := l.pool.Exec(ctx, `INSERT INTO card_attempts (card_number, attempt, station, step, outcome, reason, started_at, ended_at)
		VALUES ($1, 99, 'a', 'fed', 'spoiled', 'interrupted at step fed', $2, $3)`, string(cards[0]), now.Add(-8*time.Hour), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := store.StationRates(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Name != "a" || !got[0].Measured || got[0].PerHour < 53.99 || got[0].PerHour > 54.01 ||
		fmt.Sprint(got[0].CardTypes) != "[construction]" ||
		got[1].Name != "few" || got[1].Measured || fmt.Sprint(got[1].CardTypes) != "[construction cleaning]" ||
		got[2].Name != "parked" || !got[2].Measured || got[2].PerHour != 3600 ||
		got[3].Name != "spoiling" || got[3].Measured {
		t.Errorf("station rates %+v; want a measured at 54 cards an hour (construction), few unmeasured (construction, "+
			"cleaning), parked at 3600, spoiling unmeasured", got)
	}
}

// feedThenStop feeds the first blank, then fails as a station stopped before it recorded the
// feed would leave things.
type feedThenStop struct {
	CardTransport
	stopped bool
}

func (t *feedThenStop) FeedBlank(ctx context.Context) error {
	if err := t.CardTransport.FeedBlank(ctx); err != nil || t.stopped {
		return err
	}
	t.stopped = true
	return errors.New("stopped between the feed and its record")
}

// A blank fed just before the station stopped, its feed never recorded, is found at the coupler
// by recovery and booked as spoiled: the stock book stays balanced.
func TestRecoveryBooksUnrecordedBlank(t *testing.T) {
	ctx := context.Background()
	l := openLine(t, testsupport.Postgres(t))
	a := newStation(t, "a", 0)
	cards := l.seedCards(t, Construction, 1)
	store := NewStore(l.pool)
	if err := store.LoadBlanks(ctx, "a", Construction, 10, "op"); err != nil {
		t.Fatal(err)
	}
	w := l.worker(t, a)
	w.Transport = &feedThenStop{CardTransport: a.transport}
	stop := run(t, w)
	l.waitUntil(t, 1, `SELECT count(*) FROM stations WHERE name = 'a' AND state = 'parked'`)
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND step = 'claimed' AND outcome IS NULL`, string(cards[0])); n != 1 {
		t.Fatalf("no attempt left at step claimed")
	}
	if err := store.ClearStation(ctx, "a", "operator"); err != nil {
		t.Fatal(err)
	}
	l.waitUntil(t, 1, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	stop()
	l.checkProducedOnce(t, cards)
	if n := l.count(t, `SELECT count(*) FROM blank_stock WHERE card_number = $1 AND kind = 'spoiled'`, string(cards[0])); n != 1 {
		t.Errorf("%d spoiled blanks booked for the blank fed before the stop, want 1", n)
	}
	if got := len(a.transport.Rejects()); got != 1 {
		t.Errorf("%d cards in the reject tray, want the one fed before the stop", got)
	}
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1`, string(cards[0])); n != 2 {
		t.Errorf("%d attempts, want the interrupted one and the remake", n)
	}
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE card_number = $1 AND outcome = 'spoiled' AND step = 'fed'
		AND reason = 'interrupted at step claimed'`, string(cards[0])); n != 1 {
		t.Errorf("the interrupted attempt does not say its blank was fed")
	}
	if n := l.count(t, `SELECT count(*) FROM blank_stock WHERE station = 'a' AND kind IN ('produced', 'spoiled')`); n != 2 {
		t.Errorf("%d blanks booked used, want 2 (one spoiled, one produced)", n)
	}
}

// rejectedOnA is a line with station a, 10 blanks loaded and one card whose first chip fails its
// verify (so it goes to the reject tray), and a worker for a not yet started.
func rejectedOnA(t *testing.T) (*line, *station, []CardNumber, *Store, *StationWorker) {
	l := openLine(t, testsupport.Postgres(t))
	a := newStation(t, "a", 0)
	cards := l.seedCards(t, Construction, 1)
	a.transport.QueueFaults(encoder.Faults{LoseWrite: 3})
	store := NewStore(l.pool)
	if err := store.LoadBlanks(context.Background(), "a", Construction, 10, "op"); err != nil {
		t.Fatal(err)
	}
	return l, a, cards, store, l.worker(t, a)
}

// stuckReject fails its first reject eject and leaves the card at the coupler (a jammed reject
// path).
type stuckReject struct {
	CardTransport
	failed bool
}

func (t *stuckReject) EjectReject(ctx context.Context) error {
	if !t.failed {
		t.failed = true
		return errors.New("reject path jammed")
	}
	return t.CardTransport.EjectReject(ctx)
}

// A spoiled card whose reject eject failed stays at the coupler: the station parks, and once
// cleared ejects it without booking its blank again, then makes the card on a new blank. Before,
// the next card's feed found the coupler taken, and recovery booked the old card as that card's
// blank: two spoiled blanks for one.
func TestStuckRejectIsNotBookedTwice(t *testing.T) {
	ctx := context.Background()
	l, a, cards, store, w := rejectedOnA(t)
	w.Transport = &stuckReject{CardTransport: a.transport}
	stop := run(t, w)
	l.waitUntil(t, 1, `SELECT count(*) FROM stations WHERE name = 'a' AND state = 'parked' AND coupler_card IS NOT NULL`)
	if sts, err := store.Stations(ctx); err != nil || len(sts) != 1 || sts[0].CouplerCard != string(cards[0]) {
		t.Errorf("station list: %+v, %v; want card %s noted at the coupler", sts, err, cards[0])
	}
	if err := store.ClearStation(ctx, "a", "operator"); err != nil {
		t.Fatal(err)
	}
	l.waitUntil(t, 1, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	stop()
	l.checkProducedOnce(t, cards)
	if n := l.count(t, `SELECT count(*) FROM blank_stock WHERE station = 'a' AND kind = 'spoiled'`); n != 1 {
		t.Errorf("%d spoiled blanks booked, want 1 (the failed chip, once)", n)
	}
	if got := len(a.transport.Rejects()); got != 1 {
		t.Errorf("%d cards in the reject tray, want the failed one", got)
	}
	if n := l.count(t, `SELECT count(*) FROM stations WHERE name = 'a' AND coupler_card IS NULL`); n != 1 {
		t.Errorf("the station still notes a card at the coupler")
	}
}

// Two stations making an order's last two cards record them produced at the same moment: the
// order moves to produced exactly once (each counts the cards left after the other's commit, not
// before it).
func TestOrderProducedWhenStationsFinishTogether(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	a, b := newStation(t, "a", 0), newStation(t, "b", 1)
	cards := l.seedCards(t, Construction, 2)
	// Both claim before either goes on (so each has one card), and both reach the output tray
	// before either records its card.
	meet := func(step string) func(string) {
		var wg sync.WaitGroup
		wg.Add(2)
		return func(s string) {
			if s != step {
				return
			}
			wg.Done()
			met := make(chan struct{})
			go func() { wg.Wait(); close(met) }()
			select {
			case <-met:
			case <-time.After(30 * time.Second):
				t.Errorf("the other station did not reach %q", step)
			}
		}
	}
	claimed, printed := meet(stepClaimed), meet(stepPrinted)
	wa, wb := l.worker(t, a), l.worker(t, b)
	for _, w := range []*StationWorker{wa, wb} {
		w.afterStep = func(s string) { claimed(s); printed(s) }
	}
	run(t, wa)
	run(t, wb)
	l.waitUntil(t, 2, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	l.checkProducedOnce(t, cards)
	order := l.count(t, `SELECT count(DISTINCT order_id) FROM cards WHERE card_number = ANY($1)`, []string{string(cards[0]), string(cards[1])})
	if order != 1 {
		t.Fatalf("the cards are in %d orders, want 1", order)
	}
	l.waitUntil(t, 1, `SELECT count(*) FROM orders o JOIN cards c USING (order_id) WHERE c.card_number = $1 AND o.state = 'produced'`, string(cards[0]))
	if n := l.count(t, `SELECT count(*) FROM audit_log a JOIN cards c ON a.entity_id = c.order_id
		WHERE a.entity = 'order' AND a.to_state = 'produced' AND c.card_number = $1`, string(cards[0])); n != 1 {
		t.Errorf("%d audit entries of the order moving to produced, want 1", n)
	}
	if n := l.count(t, `SELECT count(DISTINCT station) FROM card_attempts WHERE card_number = ANY($1)`, []string{string(cards[0]), string(cards[1])}); n != 2 {
		t.Errorf("the cards were made on %d stations, want 2", n)
	}
}

// jammedReject never ejects to the reject tray: the card stays at the coupler.
type jammedReject struct{ CardTransport }

func (jammedReject) EjectReject(context.Context) error { return errors.New("reject path jammed") }

// A spoiled card that will not eject keeps the station parked until it is out of the coupler: a
// clear with the card still there parks again (the note stays), and once an operator has taken
// it out by hand the station goes on. Its blank is booked once.
func TestJammedRejectWaitsForTheOperator(t *testing.T) {
	ctx := context.Background()
	l, a, cards, store, w := rejectedOnA(t)
	w.Transport = jammedReject{a.transport}
	stop := run(t, w)
	parked := `SELECT count(*) FROM stations WHERE name = 'a' AND state = 'parked' AND coupler_card IS NOT NULL`
	l.waitUntil(t, 1, parked)
	if err := store.ClearStation(ctx, "a", "operator"); err != nil {
		t.Fatal(err)
	}
	l.waitUntil(t, 1, parked+` AND fault LIKE '%still at the coupler%'`)
	a.slot.Remove() // the operator takes the card out
	if err := store.ClearStation(ctx, "a", "operator"); err != nil {
		t.Fatal(err)
	}
	l.waitUntil(t, 1, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	stop()
	l.checkProducedOnce(t, cards)
	if n := l.count(t, `SELECT count(*) FROM blank_stock WHERE station = 'a' AND kind = 'spoiled'`); n != 1 {
		t.Errorf("%d spoiled blanks booked, want 1", n)
	}
	if n := l.count(t, `SELECT count(*) FROM stations WHERE name = 'a' AND coupler_card IS NULL`); n != 1 {
		t.Errorf("the station still notes a card at the coupler")
	}
}

// FinishTimeout counts from a stop only: a card slower than it on a worker that is not stopping
// is made as any other.
func TestSlowCardWithoutStopIsMade(t *testing.T) {
	l := openLine(t, testsupport.Postgres(t))
	a := newStation(t, "a", 0)
	l.seedCards(t, Construction, 1)
	w := l.worker(t, a)
	w.FinishTimeout = 50 * time.Millisecond
	p := &heldSubmit{CardPrinter: a.client, in: make(chan struct{}), proceed: make(chan struct{})}
	w.Printer = p
	run(t, w)
	<-p.in
	time.Sleep(300 * time.Millisecond) // far past FinishTimeout
	close(p.proceed)
	l.waitUntil(t, 1, `SELECT count(*) FROM cards WHERE state = 'produced'`)
	if n := l.count(t, `SELECT count(*) FROM card_attempts WHERE outcome = 'spoiled'`); n != 0 {
		t.Errorf("%d attempts spoiled: the slow card was cut short", n)
	}
}

// A worker whose lock's connection is lost (a database restart, a network cut) takes the lock
// again and goes on; while it has lost it, a second worker of the same name could have taken it.
func TestStationRetakesLostLock(t *testing.T) {
	ctx := context.Background()
	l := openLine(t, testsupport.Postgres(t))
	parts, err := NewInstantStation(1, encoder.DevKeys())
	if err != nil {
		t.Fatal(err)
	}
	w := &StationWorker{
		Config: StationConfig{Name: "instant-1", PrinterURI: "instant:1", Reader: "instant", CardTypes: []CardType{Construction}},
		Store:  NewStore(l.pool), Bus: l.bus, Encoder: parts, Printer: parts, Transport: parts, Renderer: testRenderer(t),
		Log: testLog(t), Poll: 20 * time.Millisecond, LockCheck: 50 * time.Millisecond,
	}
	run(t, w)
	lockHolder := func() int {
		var pid int
		err := l.pool.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND (classid::bigint << 32 | objid::bigint) = $1::bigint`, stationLockKey("instant-1")).Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	var first int
	for deadline := time.Now().Add(10 * time.Second); first == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		first = lockHolder()
	}
	if first == 0 {
		t.Fatal("the worker never took its lock")
	}
	if _, err := l.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, first); err != nil {
		t.Fatal(err)
	}
	cards := l.seedCards(t, Construction, 2)
	l.waitUntil(t, len(cards), `SELECT count(*) FROM cards WHERE state = 'produced'`)
	if again := lockHolder(); again == 0 || again == first {
		t.Errorf("lock held by backend %d after %d was terminated; want a new holder", again, first)
	}
}
