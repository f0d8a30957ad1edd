package production

// Stations: a station is a card printer plus a chip encoder (usually the printer's contactless
// coupler). Its worker claims the next card of a started print batch and takes it through the
// line, recording every step in Postgres before the next begins, so that the store always says
// where a card physically is:
//
//	claim        card queued → in_production, expiry set, attempt opened        (one short tx)
//	feed blank   attempt step fed; the blank is at the coupler
//	encode       print document made, chip written and read back; chip recorded good, card →
//	             encoded, attempt step print_submitting                          (one tx)
//	print        Print-Job, then the job id recorded (print_submitted) before watching
//	job done,    card → printed → produced, CardProduced, blank used, order → produced when all its
//	eject        cards are                                                        (one tx)
//
// Five commits a card: each records a physical step (blank fed, chip written, job taken, card
// out). What happens between two of them is software, or is found again from the printer's job
// record by recovery.
//
// A failure of the card (chip fault, verify mismatch, job aborted, jam) sends it to the reject tray:
// its chip is voided, the attempt closed with the reason, the card spoiled (CardSpoiled) and
// re-queued for a new blank under the same number, until MaxAttempts; then it stays spoiled with a
// hold for an operator. A fault of the station (printer offline or out of ribbon, cards or with a
// door open; reader or pcscd gone) parks the station with its in-flight card: the worker takes no
// card until an operator clears it (ClearStation). When it starts, and after any error, the worker
// resolves the cards it left in production (after a crash, or a park): a card whose print job
// completed at the printer and whose chip was recorded good is produced; any other is voided and
// remade. A worker told to stop finishes the card in hand first (FinishTimeout).
//
// A crash between Print-Job and recording the job's id is resolved by finding the job by its name
// (the card number) at the printer (findUnrecordedJob). A card held after MaxAttempts waits for an
// operator (HeldCards, ReleaseCard in held.go); a station removed from service is retired
// (RetireStation) and comes back when a worker starts under its name.
//
// TODO (what is left of issue 7 on this side):
//   - Speed (`cardline load`, 10,000 cards, 2 cores): about 17 ms CPU a card in the process and
//     12 ms in PostgreSQL, against the 10 ms in all that 200 cards/s would need. The largest
//     pieces left: JPEG decoding (the upload ~2 ms, the stored photo at the station ~1 ms, both
//     image/jpeg), the page render (~3 ms) and PWG packing (~2 ms); in PostgreSQL, the ~40
//     statements and 9 commits a card takes from order to dispatch.
//   - Real transports: a vendor's feed/eject commands; today a real reader gets the manual
//     transport (a card at the coupler counts as fed, its removal as ejected).
//   - A reject re-used by an operator (encoder.EncodeOptions.ReuseReject) is not offered.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/OpenPrinting/goipp"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"cardline/encoder"
	"cardline/internal/bus"
	"cardline/printer"
)

// Topics of the stations.
const (
	TopicCardsProduced = "hms.cards.produced.v1" // a card is in the output tray, chip good
	TopicCardsSpoiled  = "hms.cards.spoiled.v1"  // a card went to the reject tray, with the reason
)

// StationConsumerGroup names the offsets tables the station topics are initialised with.
const StationConsumerGroup = "cardline-stations"

// DefaultMaxAttempts is how many blanks a card number may use before an operator must look.
const DefaultMaxAttempts = 3

// StationConfig is one configured station. Rule: a name, a printer URI, a reader and at least one
// card type (the blank stock it has loaded); the worker takes only cards of those types.
type StationConfig struct {
	Name       string
	PrinterURI string
	Reader     string
	CardTypes  []CardType
	// MaxAttempts bounds the blanks one card number may use [DefaultMaxAttempts].
	MaxAttempts int
}

// Validate checks the rule of StationConfig.
func (c StationConfig) Validate() error {
	var probs []string
	if c.Name == "" || strings.ContainsAny(c.Name, " ,=") {
		probs = append(probs, "a name without spaces, commas or '='")
	}
	if c.PrinterURI == "" {
		probs = append(probs, "a printer URI")
	}
	if c.Reader == "" {
		probs = append(probs, "a reader name")
	}
	if len(c.CardTypes) == 0 {
		probs = append(probs, "at least one card type")
	}
	for _, t := range c.CardTypes {
		if !t.Valid() {
			probs = append(probs, fmt.Sprintf("a known card type, not %q", t))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("station %q needs %s", c.Name, strings.Join(probs, "; "))
	}
	return nil
}

// StationState is the operator's view of a station.
type StationState string

// The station states.
const (
	StationIdle    StationState = "idle"    // waiting for a card
	StationWorking StationState = "working" // a card is on it
	StationParked  StationState = "parked"  // a fault stopped it; an operator clears it
)

// interruptedReason begins the reason of an attempt that the station, not the card, cut short:
// the card is remade without counting against MaxAttempts.
const interruptedReason = "interrupted at step"

// Steps of an attempt, in order. The ones recorded now are claimed, fed, print_submitting and
// print_submitted (then the attempt closes as ejected); encoded and printed are the moments the
// chip's commit and the job's completion happen, named for the crash test's kill points, and
// stay valid values for attempts recorded by earlier versions (recovery reads them).
const (
	stepClaimed         = "claimed"
	stepFed             = "fed"
	stepEncoded         = "encoded"
	stepPrintSubmitting = "print_submitting"
	stepPrintSubmitted  = "print_submitted"
	stepPrinted         = "printed"
)

// ChipEncoder is the station's coupler: it writes and verifies a chip on the card at the reader
// (encoder.Station).
type ChipEncoder interface {
	Encode(ctx context.Context, r encoder.Record, opt encoder.EncodeOptions) (encoder.EncodeResult, error)
	// WaitForRemoval returns once the reader's slot is empty.
	WaitForRemoval(ctx context.Context) error
}

// CardPrinter is the station's printer (printer.Client): Submit returns the job id before the
// station watches the job, so that the id is recorded first.
type CardPrinter interface {
	Status(ctx context.Context) (*printer.PrinterStatus, error)
	Submit(ctx context.Context, doc printer.Document) (int, error)
	Watch(ctx context.Context, jobID int, onFault func(printer.Fault)) (*printer.JobResult, error)
	JobState(ctx context.Context, jobID int) (*printer.JobResult, error)
	// JobsNamed finds jobs by job-name (card number and attempt): recovery's way to a job whose id the
	// station did not record before it crashed.
	JobsNamed(ctx context.Context, name string) ([]printer.JobResult, error)
	Cancel(ctx context.Context, jobID int) error
}

// CardTransport moves cards through the printer: a blank to the coupler, the card to the output
// hopper or the reject tray. Real printers reach it through their vendor's commands; the virtual
// station through encoder.VirtualTransport. An eject with no card at the coupler is an error:
// recovery books a blank as used when its eject succeeds.
type CardTransport interface {
	FeedBlank(ctx context.Context) error
	EjectOutput(ctx context.Context) error
	EjectReject(ctx context.Context) error
}

// StationMetrics hears what a station does (throughput and faults); *Metrics is one. Optional.
type StationMetrics interface {
	StationCard(station, outcome string, took time.Duration)
	StationFault(station, kind string)
}

// CardProducedEvent says a card is in the output tray with a good chip.
type CardProducedEvent struct {
	Type       string    `json:"type"`
	CardNumber string    `json:"card_number"`
	OrderID    string    `json:"order_id"`
	Station    string    `json:"station"`
	ChipUID    string    `json:"chip_uid"`
	Attempt    int       `json:"attempt"`
	ProducedAt time.Time `json:"produced_at"`
}

// CardSpoiledEvent says a card went to the reject tray; Remade says whether it is queued again.
type CardSpoiledEvent struct {
	Type       string    `json:"type"`
	CardNumber string    `json:"card_number"`
	OrderID    string    `json:"order_id"`
	Station    string    `json:"station"`
	ChipUID    string    `json:"chip_uid,omitempty"`
	Attempt    int       `json:"attempt"`
	Reason     string    `json:"reason"`
	Remade     bool      `json:"remade"`
	SpoiledAt  time.Time `json:"spoiled_at"`
}

// StationWorker runs one station. Rule: one worker per station name at a time across all
// instances (a session advisory lock); the work of a dead instance's station is resolved by the
// next worker of that name.
type StationWorker struct {
	Config    StationConfig
	Store     *Store
	Bus       *bus.Bus
	Encoder   ChipEncoder
	Printer   CardPrinter
	Transport CardTransport
	Renderer  *printer.Renderer // may be shared by every worker of the process
	// Pages lends the print pages a card is rendered onto; share one pool between the workers of
	// a process [each worker a pool of one].
	Pages   *printer.PagePool
	Zone    *time.Location // for expiry dates [Oslo]
	Log     *slog.Logger
	Metrics StationMetrics
	// Poll is how long an idle or parked worker waits before looking again [500 ms].
	Poll time.Duration
	// FinishTimeout is how long a stopping worker (its context ended: SIGTERM) may go on with the
	// card in hand, so that a blank already fed is finished rather than remade [60 s]. A card
	// still unfinished then is left to recovery. Give the service's stop timeout more than this.
	FinishTimeout time.Duration
	// LockCheck is how often the worker makes sure it still holds its station's lock [5 s].
	LockCheck time.Duration
	Now       func() time.Time

	// afterStep, in tests, hears each step recorded (the crash test exits there).
	afterStep func(step string)

	// settled says that no card of this station is left in production: the worker left every
	// card it claimed produced or spoiled. It is false at start (a crashed run may have left
	// cards) and after any error, so recovery runs then and not before every claim.
	settled bool
}

func (w *StationWorker) actor() string { return "station:" + w.Config.Name }

func (w *StationWorker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *StationWorker) step(s string) {
	if w.afterStep != nil {
		w.afterStep(s)
	}
}

// stationFault marks an error that parks the station rather than spoiling the card.
type stationFault struct{ err error }

func (f *stationFault) Error() string { return f.err.Error() }
func (f *stationFault) Unwrap() error { return f.err }

func fault(err error) error { return &stationFault{err} }

// Run registers the station and works until ctx ends. It returns nil when ctx ends.
func (w *StationWorker) Run(ctx context.Context) error {
	if err := w.Config.Validate(); err != nil {
		return err
	}
	if w.Config.MaxAttempts == 0 {
		w.Config.MaxAttempts = DefaultMaxAttempts
	}
	if w.Poll == 0 {
		w.Poll = 500 * time.Millisecond
	}
	if w.FinishTimeout == 0 {
		w.FinishTimeout = 60 * time.Second
	}
	if w.LockCheck == 0 {
		w.LockCheck = 5 * time.Second
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	w.Log = w.Log.With("station", w.Config.Name)
	if w.Zone == nil {
		cal, err := NewBusinessDays()
		if err != nil {
			return err
		}
		w.Zone = cal.Zone()
	}
	if err := w.Bus.InitTopics(ctx, StationConsumerGroup, TopicCardsProduced, TopicCardsSpoiled); err != nil {
		return fmt.Errorf("station %s: %w", w.Config.Name, err)
	}
	conn, err := w.lock(ctx)
	if err != nil || conn == nil {
		return err
	}
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx)) // the session's lock goes with it
		}
	}()
	if err := w.register(ctx); err != nil {
		return err
	}
	if w.Pages == nil {
		w.Pages = printer.NewPagePool(1)
	}
	// A card the last run left at the coupler (or one that vanished with a crashed process and
	// that the reader has not noticed yet) must be gone before the first blank is fed, or the
	// encoder would talk to a card that is no longer there.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	if err := w.Encoder.WaitForRemoval(wctx); err != nil && ctx.Err() == nil {
		w.Log.Warn("a card is still at the coupler; the first card will be fed after it", "err", err)
	}
	cancel()
	w.Log.Info("station worker started", "printer", w.Config.PrinterURI, "reader", w.Config.Reader, "types", w.Config.CardTypes)
	checked := time.Now()
	for ctx.Err() == nil {
		// The lock lives as long as its connection: one lost (database restart, network) means
		// another instance may take the station. Take it again before the next card, and resolve
		// whatever is left as after a crash.
		if time.Since(checked) > w.LockCheck {
			checked = time.Now()
			if err := conn.Ping(ctx); err != nil && ctx.Err() == nil {
				w.Log.Warn("station lock's connection lost; taking the lock again", "err", err)
				conn.Close(context.WithoutCancel(ctx))
				if conn, err = w.lock(ctx); err != nil || conn == nil {
					return err
				}
				w.settled = false
			}
		}
		worked, err := w.once(ctx)
		if ctx.Err() != nil {
			if err != nil { // the card in hand is left to recovery at the next start
				w.Log.Warn("station stopped with its card unfinished", "err", err)
			}
			return nil
		}
		if err != nil {
			var sf *stationFault
			if errors.As(err, &sf) {
				w.park(ctx, err)
			} else {
				w.Log.Error("station step failed", "err", err)
			}
		}
		if !worked && !sleep(ctx, w.Poll) {
			return nil
		}
	}
	return nil
}

// lock takes the station's advisory lock on a connection of the worker's own, waiting while
// another instance holds it; nil (and no error) when ctx ends first. The connection is not the
// pool's: a pool holding one connection per station for as long as the station runs would have
// none left for the work once there are as many stations as the pool has connections.
func (w *StationWorker) lock(ctx context.Context) (*pgx.Conn, error) {
	for {
		conn, err := pgx.ConnectConfig(ctx, w.Store.pool.Config().ConnConfig.Copy())
		if err == nil {
			var got bool
			if err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", stationLockKey(w.Config.Name)).Scan(&got); err == nil && got {
				return conn, nil
			}
			conn.Close(context.WithoutCancel(ctx))
			if err == nil {
				w.Log.Info("another instance runs this station; waiting")
			}
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if err != nil {
			w.Log.Warn("station lock: cannot reach the database; trying again", "err", err)
		}
		if !sleep(ctx, 5*w.Poll) {
			return nil, nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func stationLockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cardline/station/" + name))
	return int64(h.Sum64())
}

// register writes the station's configuration; a parked station stays parked.
func (w *StationWorker) register(ctx context.Context) error {
	types := make([]string, len(w.Config.CardTypes))
	for i, t := range w.Config.CardTypes {
		types[i] = string(t)
	}
	_, err := w.Store.pool.Exec(ctx, `INSERT INTO stations (name, printer_uri, reader, card_types) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET printer_uri = $2, reader = $3, card_types = $4, retired_at = NULL, updated_at = now()`,
		w.Config.Name, w.Config.PrinterURI, w.Config.Reader, types)
	if err != nil {
		return fmt.Errorf("register station %s: %w", w.Config.Name, err)
	}
	return nil
}

// once resolves what the station left in production (when it may have left any), then takes one
// card through the line. It reports whether it did anything.
func (w *StationWorker) once(ctx context.Context) (bool, error) {
	if !w.settled {
		var state StationState
		if err := w.Store.pool.QueryRow(ctx, "SELECT state FROM stations WHERE name = $1", w.Config.Name).Scan(&state); err != nil {
			return false, fmt.Errorf("station %s: read state: %w", w.Config.Name, err)
		}
		if state == StationParked {
			return false, nil
		}
		if err := w.clearCoupler(ctx); err != nil {
			return false, err
		}
		if err := w.Recover(ctx); err != nil {
			return false, err
		}
		if err := w.clearCoupler(ctx); err != nil { // a card recovery could not eject
			return false, err
		}
		w.settled = true
	}
	c, err := w.claim(ctx)
	if err != nil {
		w.settled = false // a claim whose commit was lost on the way may have left a card
		return false, err
	}
	if c == nil {
		return false, nil
	}
	// The card in hand is finished even when the worker is told to stop meanwhile: only the
	// claim above watches ctx. From the stop on, it has FinishTimeout.
	cardCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopping := context.AfterFunc(ctx, func() {
		w.Log.Info("station stopping: finishing the card in hand", "card", string(c.Number), "within", w.FinishTimeout)
		time.AfterFunc(w.FinishTimeout, cancel)
	})
	defer stopping()
	err = w.produce(cardCtx, c)
	w.settled = err == nil
	return true, err
}

// inFlight is a card on this station with its open attempt.
type inFlight struct {
	Number    CardNumber
	OrderID   string
	CardType  CardType
	AttemptID int64
	Attempt   int
	Step      string
	ChipUID   []byte
	JobID     int
	Started   time.Time
	// Stuck: spoiled and booked, but its eject to the reject tray failed; leave notes it on the
	// station (coupler_card) for clearCoupler.
	Stuck bool
}

func (f *inFlight) log(l *slog.Logger) *slog.Logger {
	return l.With("card", string(f.Number), "attempt", f.Attempt)
}

// errNothingClaimed rolls back a claim that found no card (or a parked station).
var errNothingClaimed = errors.New("nothing claimed")

// claim takes the next card in one short transaction: card in_production with its expiry set and
// the station noted, attempt opened, order in_production.
func (w *StationWorker) claim(ctx context.Context) (*inFlight, error) {
	var f *inFlight
	// Parked by someone else since the last look: take nothing, resolve first when cleared.
	working := false
	b := &pgx.Batch{}
	b.Queue("UPDATE stations SET state = 'working', updated_at = now() WHERE name = $1 AND state <> 'parked'", w.Config.Name).
		Exec(func(ct pgconn.CommandTag) error { working = ct.RowsAffected() > 0; return nil })
	batches := queueClaimBatches(b, w.Config.CardTypes)
	err := batchTx(ctx, w.Store.pool, b, func(tx pgx.Tx) error {
		if !working {
			w.settled = false
			return errNothingClaimed
		}
		card, ct, err := claimFromBatches(ctx, tx, *batches, w.Config.CardTypes)
		if err != nil {
			return err
		}
		if card == nil {
			return errNothingClaimed // and the station is not working after all
		}
		c := inFlight{Number: card.Number, OrderID: card.OrderID, CardType: ct}
		now := w.now()
		b := &pgx.Batch{}
		taken := queueCardMove(b, c.Number, CardInProduction, w.actor(), "taken by station "+w.Config.Name,
			"expiry = coalesce(c.expiry, $6::date), station = $7", ExpiryFor(now, w.Zone).Format(time.DateOnly), w.Config.Name)
		b.Queue(`INSERT INTO card_attempts (card_number, attempt, station, step, printer_uri)
			VALUES ($1, (SELECT coalesce(max(attempt), 0) + 1 FROM card_attempts WHERE card_number = $1), $2, $3, $4)
			RETURNING attempt_id, attempt, started_at`, string(c.Number), w.Config.Name, stepClaimed, w.Config.PrinterURI).
			QueryRow(func(r pgx.Row) error { return r.Scan(&c.AttemptID, &c.Attempt, &c.Started) })
		var ostate OrderState
		b.Queue("SELECT state FROM orders WHERE order_id = $1", c.OrderID).QueryRow(func(r pgx.Row) error { return r.Scan(&ostate) })
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("card %s: take: %w", c.Number, err)
		}
		if _, err := taken.result(ctx, tx); err != nil {
			return err
		}
		if ostate == OrderAccepted || ostate == OrderProduced {
			if err := TransitionOrder(ctx, tx, c.OrderID, OrderInProduction, w.actor(), "card "+string(c.Number)+" in production"); err != nil {
				return err
			}
		}
		c.Step = stepClaimed
		f = &c
		return nil
	})
	if errors.Is(err, errNothingClaimed) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("station %s: claim: %w", w.Config.Name, err)
	}
	f.log(w.Log).Info("card claimed")
	w.step(stepClaimed)
	return f, nil
}

// setStep records that the card reached step (and the chip or job, when known).
func (w *StationWorker) setStep(ctx context.Context, f *inFlight, step string) error {
	_, err := w.Store.pool.Exec(ctx, `UPDATE card_attempts SET step = $2, print_job_id = nullif($3, 0) WHERE attempt_id = $1`,
		f.AttemptID, step, f.JobID)
	if err != nil {
		return fmt.Errorf("card %s: record step %s: %w", f.Number, step, err)
	}
	f.Step = step
	w.step(step)
	return nil
}

// produce takes a claimed card from blank to output tray (or reject tray).
func (w *StationWorker) produce(ctx context.Context, f *inFlight) error {
	log := f.log(w.Log)
	c, o, err := w.Store.Card(ctx, f.Number)
	if err != nil {
		return err
	}
	rec, face, tracks, err := cardData(c, o)
	if err != nil {
		// The card's data cannot go on plastic: no blank is used; an operator must look.
		return w.spoil(ctx, f, fmt.Sprintf("card data: %v", err), false, true)
	}
	// The print document is made before a blank is fed: a card whose face cannot be drawn, or a
	// printer that cannot say what it takes (a station fault), costs no blank; and nothing but
	// the chip's own commit stands between writing a chip and recording it, so that commit can
	// also say the job is about to go (print_submitting). Printer faults are judged by how the
	// job ends, not by the status before it: a printer reports a fault until its next job starts.
	// The pages go back to the pool as soon as the document is made.
	st, err := w.Printer.Status(ctx)
	if err != nil {
		return fault(fmt.Errorf("card %s: printer: %w", f.Number, err))
	}
	pages, err := w.Pages.Get(ctx) // after the status: a slow printer keeps no pages from others
	if err != nil {
		return err
	}
	if err := w.Renderer.RenderPagesInto(face, pages.Front, pages.Back); err != nil {
		w.Pages.Put(pages)
		return w.spoil(ctx, f, fmt.Sprintf("card data: %v", err), false, true)
	}
	doc, err := printer.CardDocument(st, printer.CardJob{CardNumber: string(f.Number), JobName: f.jobName(), FrontPage: pages.Front, BackPage: pages.Back,
		Tracks: []string{tracks.JobOptions()["mag-track-1"], tracks.JobOptions()["mag-track-2"]}})
	w.Pages.Put(pages)
	if err != nil {
		return fault(fmt.Errorf("card %s: printer: %w", f.Number, err))
	}

	if err := w.Transport.FeedBlank(ctx); err != nil {
		return fault(fmt.Errorf("card %s: %w", f.Number, err))
	}
	if err := w.setStep(ctx, f, stepFed); err != nil {
		return err
	}

	res, err := w.Encoder.Encode(ctx, rec, encoder.EncodeOptions{})
	if err != nil {
		if errors.Is(err, encoder.ErrReaderGone) || errors.Is(err, encoder.ErrServiceGone) || ctx.Err() != nil {
			return fault(err)
		}
		f.ChipUID = res.UID
		log.Warn("chip failed", "err", err)
		return w.reject(ctx, f, "chip: "+err.Error())
	}
	f.ChipUID = res.UID
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO card_chips (uid, card_number, attempt_id, state) VALUES ($1, $2, $3, 'good')`, res.UID, string(f.Number), f.AttemptID)
	b.Queue(`UPDATE card_attempts SET step = $2, chip_uid = $3 WHERE attempt_id = $1`, f.AttemptID, stepPrintSubmitting, res.UID)
	encoded := queueCardMove(b, f.Number, CardEncoded, w.actor(), fmt.Sprintf("chip %X", res.UID), "")
	if err := batchTx(ctx, w.Store.pool, b, func(tx pgx.Tx) error {
		_, err := encoded.result(ctx, tx)
		return err
	}); err != nil {
		return fmt.Errorf("card %s: record chip %X: %w", f.Number, res.UID, err)
	}
	f.Step = stepPrintSubmitting
	w.step(stepEncoded)
	f.JobID, err = w.Printer.Submit(ctx, doc)
	if err != nil {
		return fault(fmt.Errorf("card %s: %w", f.Number, err))
	}
	if err := w.setStep(ctx, f, stepPrintSubmitted); err != nil {
		return err
	}
	wctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	job, err := w.Printer.Watch(wctx, f.JobID, func(pf printer.Fault) {
		if pf.Kind != printer.FaultMediaEmpty && pf.Kind != printer.FaultOffline {
			return // other faults end the job (aborted), which decides below
		}
		// A job waiting for an operator (cards to refill): give it up and park, unless the fault
		// was a stale report that is gone a moment later.
		go func() {
			if !sleep(wctx, time.Second) {
				return
			}
			if st, err := w.Printer.Status(wctx); err != nil || parkingFault(st.Faults) != nil {
				stop(fmt.Errorf("printer: %s", pf))
			}
		}()
	})
	if cause := context.Cause(wctx); err != nil && cause != nil && ctx.Err() == nil {
		return fault(fmt.Errorf("card %s: job %d given up: %w", f.Number, f.JobID, cause))
	}
	var je *printer.JobError
	switch {
	case errors.As(err, &je):
		rerr := w.reject(ctx, f, "print: "+je.Error())
		if pf := parkingFault(je.Result.Faults); pf != nil {
			return errors.Join(rerr, fault(fmt.Errorf("printer: %s", pf)))
		}
		return rerr
	case err != nil:
		return fault(fmt.Errorf("card %s: %w", f.Number, err))
	}
	// Printed: the card goes to the output tray and is recorded printed and produced in one
	// commit (a crash before it is resolved from the job's record, as any submitted job is).
	w.step(stepPrinted)
	if err := w.Transport.EjectOutput(ctx); err != nil {
		return fault(fmt.Errorf("card %s: eject to output: %w", f.Number, err))
	}
	return w.produced(ctx, f, job)
}

// parksStation says whether a printer fault needs an operator before the next card. The kind
// decides, not the severity: printers report these with any suffix while they print.
func parksStation(f printer.Fault) bool {
	switch f.Kind {
	case printer.FaultMediaEmpty, printer.FaultRibbonEmpty, printer.FaultDoorOpen, printer.FaultOffline:
		return true
	}
	return false
}

func parkingFault(fs []printer.Fault) *printer.Fault {
	for i := range fs {
		if parksStation(fs[i]) {
			return &fs[i]
		}
	}
	return nil
}

// produced records the card in the output tray: printed first when job is given (its job
// completed and the card is not recorded printed yet), attempt closed, blank used, CardProduced,
// and the order produced when this was its last card.
func (w *StationWorker) produced(ctx context.Context, f *inFlight, job *printer.JobResult) error {
	now := w.now()
	b := &pgx.Batch{}
	var printed *cardMove
	if job != nil {
		printed = queueCardMove(b, f.Number, CardPrinted, w.actor(), fmt.Sprintf("job %d completed", job.JobID), "")
	}
	produced := queueCardMove(b, f.Number, CardProduced, w.actor(), "in the output tray", "station = NULL")
	b.Queue(`UPDATE card_attempts SET step = 'ejected', outcome = 'produced', ended_at = now() WHERE attempt_id = $1`, f.AttemptID)
	w.queueLeave(b, f, "produced", false)
	// The order row is locked before its cards are counted: two stations making an order's last
	// two cards at once would each count the other's as not yet made, and neither would move the
	// order on. The second now waits, then counts what the first committed (the count is a
	// statement of its own, so it sees that commit).
	b.Queue(`SELECT 1 FROM orders WHERE order_id = $1 FOR NO KEY UPDATE`, f.OrderID)
	var left int
	b.Queue(`SELECT count(*) FROM cards WHERE order_id = $1 AND state NOT IN ('produced', 'dispatched', 'blocked')`, f.OrderID).
		QueryRow(func(r pgx.Row) error { return r.Scan(&left) })
	err := batchTx(ctx, w.Store.pool, b, func(tx pgx.Tx) error {
		for _, m := range []*cardMove{printed, produced} {
			if m == nil {
				continue
			}
			if _, err := m.result(ctx, tx); err != nil {
				return err
			}
		}
		if left == 0 {
			if err := TransitionOrder(ctx, tx, f.OrderID, OrderProduced, w.actor(), "every card produced"); err != nil {
				return err
			}
		}
		return w.publish(ctx, tx, TopicCardsProduced, f.OrderID, CardProducedEvent{Type: "CardProduced", CardNumber: string(f.Number),
			OrderID: f.OrderID, Station: w.Config.Name, ChipUID: fmt.Sprintf("%X", f.ChipUID), Attempt: f.Attempt, ProducedAt: now})
	})
	if err != nil {
		return fmt.Errorf("card %s: record produced: %w", f.Number, err)
	}
	f.log(w.Log).Info("card produced", "uid", fmt.Sprintf("%X", f.ChipUID), "took", now.Sub(f.Started))
	if w.Metrics != nil {
		w.Metrics.StationCard(w.Config.Name, "produced", now.Sub(f.Started))
	}
	w.step("produced")
	return nil
}

// leave books the blank used and frees the station (and the card from it, unless the caller's
// transition did that already).
func (w *StationWorker) leave(ctx context.Context, tx pgx.Tx, f *inFlight, kind string, freeCard bool) error {
	b := &pgx.Batch{}
	w.queueLeave(b, f, kind, freeCard)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("card %s: leave station %s: %w", f.Number, w.Config.Name, err)
	}
	return nil
}

// queueLeave queues leave's statements in b.
func (w *StationWorker) queueLeave(b *pgx.Batch, f *inFlight, kind string, freeCard bool) {
	if kind != "" {
		b.Queue(`INSERT INTO blank_stock (station, card_type, kind, quantity, card_number, by) VALUES ($1, $2, $3, 1, $4, $5)`,
			w.Config.Name, string(f.CardType), kind, string(f.Number), w.actor())
	}
	if freeCard {
		b.Queue("UPDATE cards SET station = NULL WHERE card_number = $1", string(f.Number))
	}
	var stuck *string
	if f.Stuck {
		stuck = (*string)(&f.Number)
	}
	b.Queue(`UPDATE stations SET state = CASE WHEN state = 'parked' THEN state ELSE 'idle' END,
		parked_card = CASE WHEN parked_card = $2 THEN NULL ELSE parked_card END, coupler_card = coalesce($3, coupler_card),
		updated_at = now() WHERE name = $1`, w.Config.Name, string(f.Number), stuck)
}

// reject sends the card at the coupler to the reject tray and spoils it. A transport that cannot
// eject parks the station after the card is recorded spoiled.
func (w *StationWorker) reject(ctx context.Context, f *inFlight, reason string) error {
	if w.Metrics != nil {
		w.Metrics.StationFault(w.Config.Name, cardFaultKind(reason))
	}
	eerr := w.Transport.EjectReject(ctx)
	f.Stuck = eerr != nil
	if err := w.spoil(ctx, f, reason, true, false); err != nil {
		return err
	}
	if eerr != nil {
		return fault(fmt.Errorf("card %s: eject to reject tray: %w", f.Number, eerr))
	}
	return nil
}

// spoil records a card in the reject tray: chip void, attempt closed with reason, card spoiled and
// remade (queued) unless it used its attempts or hold says an operator must look.
func (w *StationWorker) spoil(ctx context.Context, f *inFlight, reason string, blankUsed, hold bool) error {
	now := w.now()
	remade := false
	err := pgx.BeginFunc(ctx, w.Store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE card_chips SET state = 'void', voided_at = now(), reason = $2 WHERE card_number = $1 AND state = 'good'`,
			string(f.Number), reason); err != nil {
			return fmt.Errorf("card %s: void chip: %w", f.Number, err)
		}
		if len(f.ChipUID) > 0 {
			// A chip that failed before it was recorded good is recorded void, so its UID is known.
			if _, err := tx.Exec(ctx, `INSERT INTO card_chips (uid, card_number, attempt_id, state, voided_at, reason)
				SELECT $1, $2, $3, 'void', now(), $4 WHERE NOT EXISTS (SELECT 1 FROM card_chips WHERE attempt_id = $3 AND uid = $1)`,
				f.ChipUID, string(f.Number), f.AttemptID, reason); err != nil {
				return fmt.Errorf("card %s: record void chip: %w", f.Number, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE card_attempts SET outcome = 'spoiled', reason = $2, ended_at = now() WHERE attempt_id = $1`,
			f.AttemptID, reason); err != nil {
			return fmt.Errorf("card %s: close attempt: %w", f.Number, err)
		}
		if _, err := TransitionCard(ctx, tx, f.Number, CardSpoiled, w.actor(), reason); err != nil {
			return err
		}
		kind := ""
		if blankUsed {
			kind = "spoiled"
		}
		if err := w.leave(ctx, tx, f, kind, true); err != nil {
			return err
		}
		// Attempts cut short by the station (crash, park) are not the card's failures.
		var spoiled int
		// An operator's release (ReleaseCard) starts the count again.
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM card_attempts a WHERE a.card_number = $1 AND a.outcome = 'spoiled'
			AND a.reason NOT LIKE $2 || '%' AND a.started_at > coalesce((SELECT released_at FROM cards WHERE card_number = $1), '-infinity')`,
			string(f.Number), interruptedReason).Scan(&spoiled); err != nil {
			return fmt.Errorf("card %s: count attempts: %w", f.Number, err)
		}
		if !hold && spoiled < w.Config.MaxAttempts {
			if _, err := TransitionCard(ctx, tx, f.Number, CardQueued, w.actor(), "remake on a new blank"); err != nil {
				return err
			}
			remade = true
		} else {
			why := reason
			if !hold {
				why = fmt.Sprintf("spoiled %d times; last: %s", spoiled, reason)
			}
			if _, err := tx.Exec(ctx, "UPDATE cards SET hold = $2 WHERE card_number = $1", string(f.Number), why); err != nil {
				return fmt.Errorf("card %s: hold: %w", f.Number, err)
			}
		}
		uid := ""
		if len(f.ChipUID) > 0 {
			uid = fmt.Sprintf("%X", f.ChipUID)
		}
		return w.publish(ctx, tx, TopicCardsSpoiled, f.OrderID, CardSpoiledEvent{Type: "CardSpoiled", CardNumber: string(f.Number),
			OrderID: f.OrderID, Station: w.Config.Name, ChipUID: uid, Attempt: f.Attempt, Reason: reason, Remade: remade, SpoiledAt: now})
	})
	if err != nil {
		return err
	}
	f.log(w.Log).Warn("card spoiled", "reason", reason, "remade", remade)
	if w.Metrics != nil {
		w.Metrics.StationCard(w.Config.Name, "spoiled", now.Sub(f.Started))
	}
	w.step("spoiled")
	return nil
}

func (w *StationWorker) publish(ctx context.Context, tx pgx.Tx, topic, orderID string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %T event: %w", payload, err)
	}
	m := message.NewMessage(watermill.NewUUID(), b)
	m.Metadata.Set("order_id", orderID)
	return w.Bus.PublishTx(ctx, tx, topic, m)
}

// park stops the station with its fault and in-flight card until an operator clears it.
func (w *StationWorker) park(ctx context.Context, cause error) {
	_, err := w.Store.pool.Exec(ctx, `UPDATE stations SET state = 'parked', fault = $2,
		parked_card = (SELECT card_number FROM cards WHERE station = $1 LIMIT 1), updated_at = now() WHERE name = $1`,
		w.Config.Name, cause.Error())
	if err != nil {
		w.Log.Error("park station", "fault", cause, "err", err)
		return
	}
	if err := pgx.BeginFunc(ctx, w.Store.pool, func(tx pgx.Tx) error {
		return audit(ctx, tx, w.actor(), "station", w.Config.Name, "", string(StationParked), cause.Error())
	}); err != nil {
		w.Log.Error("audit park", "err", err)
	}
	w.Log.Error("station parked", "fault", cause)
	if w.Metrics != nil {
		w.Metrics.StationFault(w.Config.Name, faultKind(cause))
	}
}

// Recover resolves every card this station left in production: produced if its print job
// completed at the printer and its chip was recorded good, else voided and remade. A printer that
// cannot say how a job ended is a station fault: the card stays until it can.
func (w *StationWorker) Recover(ctx context.Context) error {
	rows, err := w.Store.pool.Query(ctx, `SELECT c.card_number, c.order_id, c.card_type, a.attempt_id, a.attempt, a.step,
		a.chip_uid, coalesce(a.print_job_id, 0), a.started_at
		FROM cards c JOIN card_attempts a ON a.card_number = c.card_number AND a.outcome IS NULL
		WHERE c.station = $1 AND c.state IN ('in_production', 'encoded', 'printed') ORDER BY a.attempt_id`, w.Config.Name)
	if err != nil {
		return fmt.Errorf("station %s: find cards left in production: %w", w.Config.Name, err)
	}
	left, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (inFlight, error) {
		var f inFlight
		err := r.Scan(&f.Number, &f.OrderID, &f.CardType, &f.AttemptID, &f.Attempt, &f.Step, &f.ChipUID, &f.JobID, &f.Started)
		return f, err
	})
	if err != nil {
		return fmt.Errorf("station %s: find cards left in production: %w", w.Config.Name, err)
	}
	for i := range left {
		if err := w.resolve(ctx, &left[i]); err != nil {
			return err
		}
	}
	return nil
}

// clearCoupler ejects the spoiled card a failed reject eject left at the coupler (coupler_card),
// without booking its blank again. When the eject fails, the reader says whether the coupler is
// empty (the card was taken out by hand: the note goes) or not (it is stuck: the station parks,
// the note stays, and the operator takes it out before clearing the station).
func (w *StationWorker) clearCoupler(ctx context.Context) error {
	var card *string
	if err := w.Store.pool.QueryRow(ctx, "SELECT coupler_card FROM stations WHERE name = $1", w.Config.Name).Scan(&card); err != nil {
		return fmt.Errorf("station %s: read coupler: %w", w.Config.Name, err)
	}
	if card == nil {
		return nil
	}
	if err := w.Transport.EjectReject(ctx); err != nil {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		gone := w.Encoder.WaitForRemoval(wctx)
		cancel()
		if gone != nil {
			return fault(fmt.Errorf("spoiled card %s is still at the coupler and does not eject (%v): take it out, then clear the station", *card, err))
		}
		w.Log.Info("spoiled card left at the coupler is gone (taken out by hand)", "card", *card, "err", err)
	} else {
		w.Log.Info("spoiled card left at the coupler ejected to the reject tray", "card", *card)
	}
	if _, err := w.Store.pool.Exec(ctx, "UPDATE stations SET coupler_card = NULL WHERE name = $1", w.Config.Name); err != nil {
		return fmt.Errorf("station %s: clear coupler: %w", w.Config.Name, err)
	}
	return nil
}

func (w *StationWorker) resolve(ctx context.Context, f *inFlight) error {
	log := f.log(w.Log).With("step", f.Step, "job", f.JobID)
	var state CardState
	if err := w.Store.pool.QueryRow(ctx, "SELECT state FROM cards WHERE card_number = $1", string(f.Number)).Scan(&state); err != nil {
		return fmt.Errorf("card %s: read state: %w", f.Number, err)
	}
	if f.Step == stepPrintSubmitting && f.JobID == 0 {
		if err := w.findUnrecordedJob(ctx, f); err != nil {
			return err
		}
		log = log.With("job", f.JobID)
	}
	if f.JobID != 0 && len(f.ChipUID) > 0 {
		job, err := w.Printer.JobState(ctx, f.JobID)
		var se *printer.StatusError
		switch {
		case errors.As(err, &se) && se.Status == goipp.StatusErrorNotFound:
			// The printer forgot the job (restarted): nothing confirms the card, so remake it.
			job = &printer.JobResult{JobID: f.JobID, State: "unknown to the printer"}
		case err != nil:
			return fault(fmt.Errorf("card %s: ask printer about job %d: %w", f.Number, f.JobID, err))
		}
		if job.State == "pending" || job.State == "processing" || job.State == "pending-held" || job.State == "processing-stopped" {
			log.Info("recovery: waiting for the job to end", "state", job.State)
			if job, err = w.Printer.Watch(ctx, f.JobID, nil); err != nil && !errors.As(err, new(*printer.JobError)) {
				return fault(fmt.Errorf("card %s: watch job %d: %w", f.Number, f.JobID, err))
			}
		}
		if job.State == "completed" {
			printedNow := job
			if state != CardEncoded {
				printedNow = nil // recorded printed before the crash
			}
			if err := w.Transport.EjectOutput(ctx); err != nil {
				log.Warn("recovery: no card to eject to output (the transport lost it)", "err", err)
			}
			log.Info("recovery: job completed, chip good: produced")
			return w.produced(ctx, f, printedNow)
		}
	}
	// A card at the coupler is a blank used, even when the station stopped before it recorded the
	// feed: ejecting it to the reject tray is what tells.
	ejectErr := w.Transport.EjectReject(ctx)
	if ejectErr != nil {
		log.Warn("recovery: no card to eject to the reject tray", "err", ejectErr)
	}
	reason := fmt.Sprintf("%s %s", interruptedReason, f.Step)
	// A blank fed and booked spoiled below that would not eject may still be at the coupler: noted
	// (f.Stuck), so that the next feed never finds it and books it a second time.
	f.Stuck = f.Step != stepClaimed && ejectErr != nil
	if f.Step == stepClaimed && ejectErr == nil {
		// The blank was fed after all: the attempt says so, as the stock book does.
		if _, err := w.Store.pool.Exec(ctx, `UPDATE card_attempts SET step = $2 WHERE attempt_id = $1`, f.AttemptID, stepFed); err != nil {
			return fmt.Errorf("card %s: record the blank found at the coupler: %w", f.Number, err)
		}
		f.Step = stepFed
	}
	log.Info("recovery: card not finished: voided and remade")
	return w.spoil(ctx, f, reason, f.Step != stepClaimed, false)
}

// jobName names the attempt's print job at the printer: the card number, for whoever looks at
// the printer's queue, and the attempt, so that recovery finds this attempt's job and no other's.
func (f *inFlight) jobName() string { return fmt.Sprintf("%s-%d", f.Number, f.Attempt) }

// findUnrecordedJob looks for the job of a card whose station stopped between Print-Job and
// recording the job's id: the printer's job named for this attempt (jobName). Found, its id is
// recorded (step print_submitted) and resolve goes on as for any submitted job: produced if it
// completes, else remade once it has ended. Not found, the printer never took it.
func (w *StationWorker) findUnrecordedJob(ctx context.Context, f *inFlight) error {
	jobs, err := w.Printer.JobsNamed(ctx, f.jobName())
	if err != nil {
		return fault(fmt.Errorf("card %s: find its unrecorded print job: %w", f.Number, err))
	}
	if len(jobs) == 0 {
		return nil // the printer never took it: the blank was not printed on
	}
	// One Print-Job an attempt: more than one would be a printer answering twice; the newest is
	// the one to follow, and any other still waiting is canceled so no second card comes out.
	slices.SortFunc(jobs, func(a, b printer.JobResult) int { return b.JobID - a.JobID })
	for _, j := range jobs[1:] {
		if !jobEnded(j.State) {
			if err := w.Printer.Cancel(ctx, j.JobID); err != nil {
				return fault(fmt.Errorf("card %s: cancel stray job %d: %w", f.Number, j.JobID, err))
			}
		}
	}
	f.JobID = jobs[0].JobID
	f.log(w.Log).Info("recovery: found the print job the station had not recorded", "job", f.JobID, "state", jobs[0].State)
	return w.setStep(ctx, f, stepPrintSubmitted)
}

// jobEnded says whether an IPP job state is final (completed, aborted or canceled).
func jobEnded(state string) bool {
	return state == "completed" || state == "aborted" || state == "canceled"
}

// cardData is what goes on the chip, the face and the stripe of a stored card.
func cardData(c *Card, o *Order) (encoder.Record, *printer.Face, encoder.Tracks, error) {
	rec := encoder.Record{GivenName: c.Holder.GivenName, FamilyName: c.Holder.FamilyName, BirthDate: c.Holder.BirthDate,
		Gender: string(c.Holder.Gender), OrgNumber: o.OrgNumber, OrgName: o.CompanyName, CardNumber: string(c.Number),
		Expiry: c.Expiry, CardType: string(o.CardType)}
	if err := rec.Validate(); err != nil {
		return rec, nil, encoder.Tracks{}, err
	}
	face, err := CardFace(c, o)
	if err != nil {
		return rec, nil, encoder.Tracks{}, err
	}
	tracks, err := encoder.EncodeStripe(encoder.Stripe{OrgNumber: o.OrgNumber, CardNumber: string(c.Number)})
	return rec, face, tracks, err
}

// CardFace is the face the printer prints for a stored card. A card not yet in production has no
// expiry: the face shows the one it would get if production started now (ExpiryFor in Oslo).
func CardFace(c *Card, o *Order) (*printer.Face, error) {
	if len(c.Photo.JPEG) == 0 {
		return nil, fmt.Errorf("card %s: its photo is gone (deleted after dispatch)", c.Number)
	}
	photo, err := c.Photo.Decode()
	if err != nil {
		return nil, fmt.Errorf("card %s: %w", c.Number, err)
	}
	expiry := c.Expiry
	if expiry.IsZero() {
		cal, err := NewBusinessDays()
		if err != nil {
			return nil, err
		}
		expiry = ExpiryFor(time.Now(), cal.Zone())
	}
	return &printer.Face{
		CardType:   printer.CardType(o.CardType),
		GivenName:  c.Holder.GivenName,
		FamilyName: c.Holder.FamilyName,
		BirthDate:  c.Holder.BirthDate,
		Expiry:     expiry,
		OrgNumber:  o.OrgNumber,
		OrgName:    o.CompanyName,
		CardNumber: string(c.Number),
		Photo:      photo,
	}, nil
}

// StationStatus is one line of `cardline station list`.
type StationStatus struct {
	Name       string
	PrinterURI string
	Reader     string
	CardTypes  []string
	State      StationState
	Fault      string
	ParkedCard string
	// CouplerCard is a spoiled card (booked) whose eject to the reject tray failed: it is still
	// at the coupler until the cleared station ejects it or an operator takes it out.
	CouplerCard string
	UpdatedAt   time.Time
	Produced    int // cards produced on this station
	Spoiled     int // attempts spoiled on this station
}

// Stations lists the stations with their state and counts.
func (s *Store) Stations(ctx context.Context) ([]StationStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.name, s.printer_uri, s.reader, s.card_types, s.state, coalesce(s.fault, ''),
		coalesce(s.parked_card, ''), coalesce(s.coupler_card, ''), s.updated_at,
		(SELECT count(*) FROM card_attempts a WHERE a.station = s.name AND a.outcome = 'produced'),
		(SELECT count(*) FROM card_attempts a WHERE a.station = s.name AND a.outcome = 'spoiled')
		FROM stations s WHERE s.retired_at IS NULL ORDER BY s.name`)
	if err != nil {
		return nil, fmt.Errorf("list stations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StationStatus, error) {
		var st StationStatus
		err := r.Scan(&st.Name, &st.PrinterURI, &st.Reader, &st.CardTypes, &st.State, &st.Fault, &st.ParkedCard, &st.CouplerCard, &st.UpdatedAt,
			&st.Produced, &st.Spoiled)
		return st, err
	})
}

// ClearStation is the operator's word that a parked station's fault is fixed: its worker
// resolves the card it was parked with (produced if the printer completed it, else remade) and
// takes cards again.
func (s *Store) ClearStation(ctx context.Context, name, actor string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state StationState
		var fault *string
		err := tx.QueryRow(ctx, "SELECT state, fault FROM stations WHERE name = $1 FOR UPDATE", name).Scan(&state, &fault)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("station %s: no such station", name)
		}
		if err != nil {
			return fmt.Errorf("station %s: read state: %w", name, err)
		}
		if state != StationParked {
			return fmt.Errorf("station %s is %s, not parked", name, state)
		}
		if _, err := tx.Exec(ctx, `UPDATE stations SET state = 'idle', fault = NULL, parked_card = NULL, updated_at = now() WHERE name = $1`, name); err != nil {
			return fmt.Errorf("station %s: clear: %w", name, err)
		}
		reason := "cleared"
		if fault != nil {
			reason = "cleared: " + *fault
		}
		return audit(ctx, tx, actor, "station", name, string(StationParked), string(StationIdle), reason)
	})
}

// faultKind names a station fault for metrics.
func faultKind(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, encoder.ErrReaderGone):
		return "reader-gone"
	case errors.Is(err, encoder.ErrServiceGone):
		return "pcscd-gone"
	case errors.Is(err, printer.ErrOffline):
		return "printer-offline"
	case strings.Contains(msg, "blank cards"):
		return "no-blank"
	case strings.Contains(msg, "ibbon"):
		return "ribbon"
	}
	return "other"
}

// cardFaultKind names a card's failure for metrics: jam, verify, encode or print.
func cardFaultKind(reason string) string {
	switch {
	case strings.Contains(reason, "jam"):
		return "jam"
	case strings.Contains(reason, encoder.ErrWriteNotStuck.Error()) || strings.Contains(reason, encoder.ErrBadSignature.Error()):
		return "verify"
	case strings.HasPrefix(reason, "chip"):
		return "encode"
	}
	return "print"
}
