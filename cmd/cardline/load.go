package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"cardline/encoder"
	"cardline/internal/pgcluster"
	"cardline/printer"
	"cardline/production"
	"cardline/shipping"
	"cardline/temporary"
)

func loadCommand() command {
	return command{name: "load", summary: "measure the whole software path: N cards from order to dispatch through instant stations", run: func(ctx context.Context, a *app, args []string) error {
		fs := newFlags(a, "cardline load", "", "Starts a throwaway durable PostgreSQL (fsync on) and runs generated orders through the "+
			"whole software path: intake, the temporary-card mail (PDFs rendered, sent to an in-process sink instead of SMTP), "+
			"print-batch planning, station workers with instant in-memory encoders, printers and transports (card faces "+
			"rendered, chip images planned and signed), and shipping (plan, labels, pack by QR scan, dispatch), until every "+
			"card is dispatched. Prints cards/s end to end, CPU ms per card, peak RSS and where the time went.")
		var o loadOptions
		fs.IntVar(&o.cards, "cards", 10000, "cards to make")
		fs.IntVar(&o.stations, "stations", 2, "station workers")
		fs.IntVar(&o.perOrder, "cards-per-order", 2, "cards in each order (the last order takes what is left)")
		fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
		fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to this file at the run's highest heap in use")
		fs.BoolVar(&o.pipelined, "pipelined", true, "run every stage at once, as serve does (false: stage after stage, with the figures of each)")
		fs.Uint64Var(&o.seed, "seed", 7, "seed of the sample generator")
		fs.DurationVar(&o.pickupEvery, "pickup-every", 10*time.Second, "pipelined: ship what is ready this often while cards are made (0: one pickup after the last card)")
		pgStatements := fs.Int("pg-statements", 0, "print this many PostgreSQL statements that took the most server time (pg_stat_statements)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if o.cards < 1 || o.stations < 1 || o.perOrder < 1 {
			return errors.New("load: --cards, --stations and --cards-per-order must be at least 1")
		}
		var pgOpts pgcluster.Options
		if *pgStatements > 0 {
			pgOpts.Settings = []string{"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"}
		}
		cluster, err := pgcluster.Start(ctx, pgOpts)
		if err != nil {
			return err
		}
		defer cluster.Stop()
		if err := cluster.CreateDatabase(ctx, "cardline"); err != nil {
			return err
		}
		o.databaseURL = cluster.URL("cardline")
		r, err := runLoad(ctx, o)
		if err != nil {
			return err
		}
		r.print(a.stdout)
		if *pgStatements > 0 {
			return printStatements(ctx, a.stdout, o.databaseURL, *pgStatements, r.cards)
		}
		return nil
	}}
}

// printStatements lists the statements that took the most PostgreSQL time in the run, per card.
func printStatements(ctx context.Context, w io.Writer, url string, n, cards int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, regexp_replace(query, '\s+', ' ', 'g')
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1`, n)
	if err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	defer rows.Close()
	fmt.Fprintf(w, "  PostgreSQL statements by server time (per card: calls, ms):\n")
	for rows.Next() {
		var calls int64
		var total float64
		var q string
		if err := rows.Scan(&calls, &total, &q); err != nil {
			return err
		}
		if len(q) > 110 {
			q = q[:110] + "…"
		}
		fmt.Fprintf(w, "  %6.2f %7.3f  %s\n", float64(calls)/float64(cards), total/float64(cards), q)
	}
	return rows.Err()
}

// loadOptions is one load run.
type loadOptions struct {
	cards, stations, perOrder int
	seed                      uint64
	cpuProfile, memProfile    string
	pipelined                 bool
	pickupEvery               time.Duration
	databaseURL               string // an empty database
}

// loadPhase is what one phase of a load run took: wall time, this process's CPU, and the whole
// machine's busy CPU (which includes PostgreSQL).
type loadPhase struct {
	name               string
	wall, cpu, machine time.Duration
	peakRSSKB          int64 // the process's peak so far, at the end of the phase
}

// loadResult is the figures of a load run.
type loadResult struct {
	cards, orders, stations int
	phases                  []loadPhase
	wall, cpu, machine      time.Duration
	peakRSSKB               int64
	mails                   int
	// rejected counts generated orders that intake rejected: the generator's random people
	// sometimes repeat one already carded at the same employer, which intake rightly refuses.
	rejected   int
	photoBytes int
	// marks are when each stage of a pipelined run finished its last piece of work, from the start.
	marks []loadMark
}

type loadMark struct {
	what string
	at   time.Duration
}

func (r *loadResult) print(w io.Writer) {
	fmt.Fprintf(w, "load: %d cards in %d orders, %d instant stations, durable PostgreSQL (fsync on)\n", r.cards, r.orders, r.stations)
	fmt.Fprintf(w, "  end to end   %8.1f cards/s   (%s wall)\n", float64(r.cards)/r.wall.Seconds(), r.wall.Round(time.Millisecond))
	fmt.Fprintf(w, "  CPU          %8.2f ms/card cardline (user+sys)   %.2f ms/card whole machine (PostgreSQL included)\n",
		ms(r.cpu)/float64(r.cards), ms(r.machine)/float64(r.cards))
	fmt.Fprintf(w, "  peak RSS     %8.1f MB\n", float64(r.peakRSSKB)/1024)
	fmt.Fprintf(w, "  %-26s %10s %8s %14s %14s %10s\n", "phase", "wall", "share", "cardline CPU", "machine CPU", "peak RSS")
	for _, p := range r.phases {
		fmt.Fprintf(w, "  %-26s %10s %7.1f%% %11.2f ms/c %11.2f ms/c %7.1f MB\n", p.name, p.wall.Round(time.Millisecond),
			100*p.wall.Seconds()/r.wall.Seconds(), ms(p.cpu)/float64(r.cards), ms(p.machine)/float64(r.cards), float64(p.peakRSSKB)/1024)
	}
	for _, m := range r.marks {
		fmt.Fprintf(w, "  %-26s %10s\n", m.what, m.at.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  temporary-card mails: %d to the in-process sink; photos %d bytes (JPEG); generated orders rejected by intake: %d\n",
		r.mails, r.photoBytes, r.rejected)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// processCPU is this process's user+sys time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSKB is the process's peak resident set (getrusage maxrss, in KB on Linux).
func peakRSSKB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}

// machineBusy is the CPU time every core of the machine spent not idle (from /proc/stat); zero
// where there is none.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ is 100 on Linux
}

// heapPeakProfile samples the heap in use every 100 ms and writes a heap profile to path each
// time it reaches a new high, so the file ends up showing what held the most memory.
func heapPeakProfile(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse <= peak+peak/20 { // a new high by 5 %: not a profile every tick
				continue
			}
			peak = ms.HeapInuse
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// mailSink is the load run's mail relay: it takes each rendered mail and keeps only a count.
type mailSink struct{ sent atomic.Int64 }

func (s *mailSink) Send(ctx context.Context, m *temporary.Mail) error {
	if len(m.Attachments) == 0 {
		return fmt.Errorf("mail sink: mail %s has no temporary card", m.MessageID)
	}
	s.sent.Add(1)
	return nil
}

// runLoad runs one load on an empty database and returns its figures.
func runLoad(ctx context.Context, o loadOptions) (*loadResult, error) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil)) // formatted as serve logs, then dropped
	holder := make([]byte, 32)
	if _, err := rand.Read(holder); err != nil {
		return nil, err
	}
	_, qrKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	cfg := config{databaseURL: o.databaseURL, holderKey: hex.EncodeToString(holder), pollInterval: 20 * time.Millisecond,
		batchSize: 50, statusBaseURL: defaultStatusBaseURL, qrKey: hex.EncodeToString(qrKey.Seed())}
	svc, err := openService(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer svc.close()

	// The orders, made before the clock starts, without their photos: a message gets its photo
	// when it is published (10,000 photos held in the harness would be its memory, not the line's).
	s := production.NewSamples(o.seed)
	photo := base64.StdEncoding.EncodeToString(s.Photo(300, 400))
	var orders []*production.OrderApproved
	now := time.Now()
	for left := o.cards; left > 0; left -= o.perOrder {
		m := s.Order(min(o.perOrder, left), now.Add(-time.Hour))
		m.OrderID = fmt.Sprintf("L-%d-%07d", now.Year(), len(orders)+1)
		for i := range m.Cards {
			m.Cards[i].Photo.Data = ""
		}
		orders = append(orders, m)
	}
	res := &loadResult{orders: len(orders), stations: o.stations, photoBytes: base64.StdEncoding.DecodedLen(len(photo))}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		stopPeak := heapPeakProfile(o.memProfile)
		defer stopPeak()
	}
	runtime.GC()
	startWall, startCPU, startMachine := time.Now(), processCPU(), machineBusy()
	phase := func(name string, run func() error) error {
		w, c, m := time.Now(), processCPU(), machineBusy()
		if err := run(); err != nil {
			return fmt.Errorf("load: %s: %w", name, err)
		}
		res.phases = append(res.phases, loadPhase{name: name, wall: time.Since(w), cpu: processCPU() - c, machine: machineBusy() - m,
			peakRSSKB: peakRSSKB()})
		return nil
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	background := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(runCtx); err != nil && runCtx.Err() == nil {
				log.Error("load: stopped", "part", name, "err", err)
			}
		}()
	}

	sink := &mailSink{}
	m, err := temporary.NewMailer(temporary.Config{From: mail.Address{Name: "HMS-kort", Address: "hms-kort@cardline.example"},
		StatusBaseURL: cfg.statusBaseURL, SigningKey: qrKey, PollInterval: 20 * time.Millisecond}, svc.bus, svc.store, sink, log)
	if err != nil {
		return nil, err
	}
	l := &loadLine{svc: svc, o: o, cfg: cfg, qrKey: qrKey, log: log, background: background, mailer: m}

	// The stages, each started in the background, and what says each is done.
	publishOrders := func() error {
		router, err := startIntake(ctx, svc, m)
		if err != nil {
			return err
		}
		background("router", router.Run)
		const chunk = 100 // upstream publishes in batches, as an outbox would
		for i := 0; i < len(orders); i += chunk {
			var msgs []*message.Message
			for _, m := range orders[i:min(i+chunk, len(orders))] {
				for c := range m.Cards {
					m.Cards[c].Photo.Data = photo
				}
				b, err := json.Marshal(m)
				if err != nil {
					return err
				}
				msgs = append(msgs, message.NewMessage(watermill.NewUUID(), b))
			}
			clear(orders[i:min(i+chunk, len(orders))]) // published: the harness keeps no copy
			if err := svc.bus.Publish(ctx, production.TopicOrdersApproved, msgs...); err != nil {
				return err
			}
		}
		return nil
	}
	intakeDone := func() (bool, error) {
		var orders, jobs int
		err := svc.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM orders WHERE state = 'rejected'),
			(SELECT count(DISTINCT order_id) FROM mail_outbox)`).Scan(&orders, &res.rejected, &jobs)
		return err == nil && orders == res.orders && jobs == orders-res.rejected, err
	}
	mailDone := func() (bool, error) {
		var open, failed int
		err := svc.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state NOT IN ('sent', 'failed')), count(*) FILTER (WHERE state = 'failed')
			FROM mail_outbox`).Scan(&open, &failed)
		if failed > 0 {
			return false, fmt.Errorf("%d mails failed", failed)
		}
		return err == nil && open == 0, err
	}
	cardsIn := func(states ...string) (n int, err error) {
		err = svc.pool.QueryRow(ctx, `SELECT count(*) FROM cards WHERE state = ANY($1)`, states).Scan(&n)
		return n, err
	}
	noSpoiled := func() error {
		if n, err := cardsIn("spoiled"); err != nil || n > 0 {
			return errors.Join(err, fmt.Errorf("%d cards spoiled on instant stations (see card_attempts)", n))
		}
		return nil
	}

	if o.pipelined {
		// The line as serve runs it: every stage at once, orders flowing through.
		if err := phase("the whole line, pipelined", func() error {
			if err := l.loadBlanks(ctx); err != nil {
				return err
			}
			if err := publishOrders(); err != nil {
				return err
			}
			background("mailer", m.Run)
			background("planner", l.planEvery(250*time.Millisecond))
			if err := l.startStations(); err != nil {
				return err
			}
			stopPickups := func() error { return nil }
			if o.pickupEvery > 0 {
				stopPickups = l.pickups(runCtx, o.pickupEvery)
			}
			mark := func(what string) { res.marks = append(res.marks, loadMark{what, time.Since(startWall)}) }
			if err := waitFor(ctx, 10*time.Minute, "orders handled and mail jobs recorded", intakeDone); err != nil {
				return err
			}
			mark("  last order taken in")
			var accepted int
			if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM cards WHERE state <> 'blocked'`).Scan(&accepted); err != nil {
				return err
			}
			res.cards = accepted
			if err := waitFor(ctx, 30*time.Minute, "cards produced", func() (bool, error) {
				if err := noSpoiled(); err != nil {
					return false, err
				}
				n, err := cardsIn("produced", "dispatched") // pickups may have shipped some
				return err == nil && n == accepted, err
			}); err != nil {
				return err
			}
			mark("  last card produced")
			if err := stopPickups(); err != nil {
				return err
			}
			// The last pickup takes what is left.
			if err := l.shipAll(ctx, accepted); err != nil {
				return err
			}
			mark("  every card dispatched")
			if err := waitFor(ctx, 10*time.Minute, "temporary cards mailed", mailDone); err != nil {
				return err
			}
			mark("  last mail sent")
			return nil
		}); err != nil {
			return nil, err
		}
	} else {
		if err := phase("intake (+ mail handler)", func() error {
			if err := publishOrders(); err != nil {
				return err
			}
			return waitFor(ctx, 10*time.Minute, "orders handled and mail jobs recorded", intakeDone)
		}); err != nil {
			return nil, err
		}
		if res.cards, err = cardsIn("queued"); err != nil {
			return nil, err
		}
		if err := phase("temporary-card mail", func() error {
			background("mailer", m.Run)
			return waitFor(ctx, 10*time.Minute, "temporary cards mailed", mailDone)
		}); err != nil {
			return nil, err
		}
		if err := phase("planning", func() error {
			if err := l.loadBlanks(ctx); err != nil {
				return err
			}
			_, err := l.plan(ctx)
			return err
		}); err != nil {
			return nil, err
		}
		if err := phase("stations", func() error {
			if err := l.startStations(); err != nil {
				return err
			}
			return waitFor(ctx, 30*time.Minute, "cards produced", func() (bool, error) {
				if err := noSpoiled(); err != nil {
					return false, err
				}
				n, err := cardsIn("produced")
				return err == nil && n == res.cards, err
			})
		}); err != nil {
			return nil, err
		}
		if err := phase("shipping", func() error { return l.shipAll(ctx, res.cards) }); err != nil {
			return nil, err
		}
	}
	res.mails = int(sink.sent.Load())
	res.wall, res.cpu, res.machine = time.Since(startWall), processCPU()-startCPU, machineBusy()-startMachine
	res.peakRSSKB = peakRSSKB()
	return res, nil
}

// loadLine is the line of one load run: the service and the stages the harness drives.
type loadLine struct {
	svc        *service
	o          loadOptions
	cfg        config
	qrKey      ed25519.PrivateKey
	log        *slog.Logger
	background func(name string, run func(context.Context) error)
	mailer     *temporary.Mailer

	shipper *loadShipper
}

// loadBlanks loads every station with blanks of every type, enough for the whole run.
func (l *loadLine) loadBlanks(ctx context.Context) error {
	for i := range l.o.stations {
		for _, t := range []production.CardType{production.Construction, production.Cleaning, production.Transport} {
			if err := l.svc.store.LoadBlanks(ctx, loadStation(i), t, l.o.cards, "load"); err != nil {
				return err
			}
		}
	}
	return nil
}

// plan makes print batches of the queued cards and starts them, as an operator would.
func (l *loadLine) plan(ctx context.Context) (int, error) {
	batches, err := l.svc.store.PlanPrintBatches(ctx, l.cfg.batchSize, "load")
	if err != nil {
		return 0, err
	}
	for _, b := range batches {
		if err := l.svc.store.StartBatch(ctx, b.ID, "load"); err != nil {
			return 0, err
		}
	}
	return len(batches), nil
}

func (l *loadLine) planEvery(d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		for sleepCtx(ctx, d) {
			if _, err := l.plan(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
		return nil
	}
}

// startStations starts the instant station workers.
func (l *loadLine) startStations() error {
	keys := encoder.DevKeys() // the instant chips never leave the process
	renderer, err := printer.NewRenderer(printer.Options{StatusBaseURL: l.cfg.statusBaseURL, SigningKey: l.qrKey})
	if err != nil {
		return err
	}
	pages := printer.NewPagePool(runtime.GOMAXPROCS(0)) // renders take turns; encodes run on the cores
	for i := range l.o.stations {
		parts, err := production.NewInstantStation(i+1, keys)
		if err != nil {
			return err
		}
		w := &production.StationWorker{Config: production.StationConfig{Name: loadStation(i), PrinterURI: "instant:" + loadStation(i),
			Reader: "instant", CardTypes: []production.CardType{production.Construction, production.Cleaning, production.Transport}},
			Store: l.svc.store, Bus: l.svc.bus, Encoder: parts, Printer: parts, Transport: parts, Renderer: renderer, Pages: pages, Log: l.log,
			Poll: 20 * time.Millisecond}
		l.background(w.Config.Name, w.Run)
	}
	return nil
}

// pickups ships what is ready every d, as a line with several pickups a day does, until the
// returned stop is called. Stop lets a pickup under way finish (a batch is never left half
// packed) and returns the first error a pickup had.
func (l *loadLine) pickups(ctx context.Context, d time.Duration) (stop func() error) {
	quit, done := make(chan struct{}), make(chan error, 1)
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-quit:
				done <- nil
				return
			case <-ctx.Done():
				done <- ctx.Err()
				return
			case <-t.C:
			}
			if _, err := l.shipOnce(ctx); err != nil {
				done <- fmt.Errorf("pickup: %w", err)
				return
			}
		}
	}()
	return func() error { close(quit); return <-done }
}

// shipAll plans pickups until every card is dispatched.
func (l *loadLine) shipAll(ctx context.Context, cards int) error {
	for round := 0; ; round++ {
		var n int
		if err := l.svc.pool.QueryRow(ctx, `SELECT count(*) FROM cards WHERE state = 'dispatched'`).Scan(&n); err != nil || n == cards {
			return err
		}
		if round == 10 {
			return fmt.Errorf("%d of %d cards dispatched after %d pickups", n, cards, round)
		}
		if envelopes, err := l.shipOnce(ctx); err != nil {
			return err
		} else if envelopes == 0 {
			return fmt.Errorf("%d of %d cards dispatched and the plan has no envelopes", n, cards)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// shipOnce plans a pickup of the ready cards, prints its labels (PDF, discarded), packs every
// envelope by its card's signed QR code and dispatches the batch. It returns the envelopes shipped.
func (l *loadLine) shipOnce(ctx context.Context) (int, error) {
	if l.shipper == nil {
		s, err := newLoadShipper(l.svc, l.qrKey)
		if err != nil {
			return 0, err
		}
		l.shipper = s
	}
	return l.shipper.ship(ctx, l.cfg.statusBaseURL)
}

type loadShipper struct {
	store  *shipping.Store
	labels *shipping.Labeler
	cal    *production.BusinessDays
	qrKey  ed25519.PrivateKey
	ids    qrCards
}

func newLoadShipper(svc *service, qrKey ed25519.PrivateKey) (*loadShipper, error) {
	cal, err := production.NewBusinessDays()
	if err != nil {
		return nil, err
	}
	sender, err := parseReturnAddress(defaultReturnAddress)
	if err != nil {
		return nil, err
	}
	l, err := shipping.NewLabeler(shipping.LabelConfig{Sender: sender})
	if err != nil {
		return nil, err
	}
	return &loadShipper{store: shipping.NewStore(svc.pool, svc.bus, cal), labels: l, cal: cal, qrKey: qrKey,
		ids: qrCards{pub: qrKey.Public().(ed25519.PublicKey)}}, nil
}

func (s *loadShipper) ship(ctx context.Context, statusBase string) (int, error) {
	res, err := s.store.PlanPickup(ctx, time.Now(), s.store.Schedule(15*time.Hour, 14*time.Hour))
	if err != nil {
		return 0, err
	}
	b := res.Batch
	if len(b.Envelopes) == 0 {
		return 0, nil
	}
	labels := b.Labels()
	if err := s.labels.WritePDF(io.Discard, labels); err != nil {
		return 0, err
	}
	if _, err := s.store.RecordLabelsPrinted(ctx, b.ID, labels); err != nil {
		return 0, err
	}
	for _, e := range b.Envelopes {
		qr, err := printer.StatusURL(statusBase, s.qrKey, e.CardNumber, production.ExpiryFor(time.Now(), s.cal.Zone()))
		if err != nil {
			return 0, err
		}
		if _, _, err := s.store.Pack(ctx, string(e.ID), qr, s.ids, "load-packer"); err != nil {
			return 0, err
		}
	}
	if _, err := s.store.Dispatch(ctx, b.ID, time.Now(), "load-logistics", false); err != nil {
		return 0, err
	}
	return len(b.Envelopes), nil
}

func loadStation(i int) string { return fmt.Sprintf("load-%d", i+1) }

// startIntake builds the router with intake and the mailer's OrderAccepted handler, as serve does.
func startIntake(ctx context.Context, svc *service, m *temporary.Mailer) (*message.Router, error) {
	secret, err := svc.cfg.holderSecret()
	if err != nil {
		return nil, err
	}
	cal, err := production.NewBusinessDays()
	if err != nil {
		return nil, err
	}
	router, err := svc.bus.Router(ctx)
	if err != nil {
		return nil, err
	}
	sub, err := svc.bus.Subscriber(production.IntakeConsumerGroup)
	if err != nil {
		return nil, err
	}
	v := &production.Validator{HolderSecret: secret, Calendar: cal, Now: time.Now, AddressRule: labelAddressRule}
	intake := &production.Intake{Bus: svc.bus, Log: svc.log, Now: time.Now, Validator: v, Ahead: production.NewPrevalidator(svc.pool, v)}
	intake.Ahead.Log = svc.log
	go func() {
		if err := intake.Ahead.Run(ctx); err != nil {
			svc.log.Warn("validation ahead stopped; intake validates inline", "err", err)
		}
	}()
	if err := intake.Register(ctx, router, sub); err != nil {
		return nil, err
	}
	if err := svc.bus.InitTopics(ctx, production.IntakeConsumerGroup, production.TopicOrdersApproved); err != nil {
		return nil, err
	}
	msub, err := svc.bus.Subscriber(temporary.ConsumerGroup)
	if err != nil {
		return nil, err
	}
	if err := m.Register(ctx, router, msub); err != nil {
		return nil, err
	}
	return router, nil
}

// waitFor polls done until it is true, fails, or the time runs out.
func waitFor(ctx context.Context, limit time.Duration, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not all %s after %s", what, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
