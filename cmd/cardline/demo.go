package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"cardline/encoder"
	"cardline/internal/bus"
	"cardline/internal/pgcluster"
	"cardline/printer"
	"cardline/production"
	"cardline/shipping"
)

func demoCommand() command {
	return command{name: "demo", summary: "run the line end to end on a throwaway database and show what it produced", run: func(ctx context.Context, a *app, args []string) error {
		fs := newFlags(a, "cardline demo", "", "Starts a throwaway PostgreSQL, runs the service, submits a set of generated sample orders "+
			"(synthetic photos, a few deliberately bad orders, a replay, a conflict and a replacement), waits until every one "+
			"is handled and prints a summary. Everything it made is left in the output folder.")
		out := fs.String("out", "demo-out", "output folder (emptied first)")
		orders := fs.Int("orders", 120, "good orders to generate (2.5 cards each on average)")
		seed := fs.Uint64("seed", 2026, "seed of the sample generator")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return runDemo(ctx, a, *out, *orders, *seed)
	}}
}

// outMarker is the file a run leaves in its output folder, so that the next run may empty it.
const outMarker = ".cardline-output"

// freshOutDir makes dir an empty output folder. It empties only a folder that is new, empty, or
// marked as an earlier run's: --out . or --out ~ must not wipe a repository or a home.
func freshOutDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("output folder %s: %w", dir, err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, outMarker)); err != nil {
			return fmt.Errorf("output folder %s holds files no earlier run made (no %s in it): name a new or empty folder", dir, outMarker)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("empty output folder %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output folder %s: %w", dir, err)
	}
	return os.WriteFile(filepath.Join(dir, outMarker), []byte("made by cardline; the next run empties this folder\n"), 0o644)
}

func runDemo(ctx context.Context, a *app, out string, nOrders int, seed uint64) error {
	if err := freshOutDir(out); err != nil {
		return err
	}
	ordersDir := filepath.Join(out, "orders")
	if err := os.MkdirAll(ordersDir, 0o755); err != nil {
		return fmt.Errorf("create output folder: %w", err)
	}
	step := func(format string, args ...any) { fmt.Fprintf(a.stdout, "▸ "+format+"\n", args...) }
	// The service's own log goes to a file: the terminal shows the demo's progress.
	logFile, err := os.Create(filepath.Join(out, "cardline.log"))
	if err != nil {
		return fmt.Errorf("create demo log: %w", err)
	}
	defer logFile.Close()
	a = &app{stdout: a.stdout, stderr: a.stderr, log: slog.New(slog.NewJSONHandler(logFile, nil))}

	step("starting a throwaway PostgreSQL")
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	if err := cluster.CreateDatabase(ctx, "cardline"); err != nil {
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	_, qrKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	cfg := config{databaseURL: cluster.URL("cardline"), holderKey: hex.EncodeToString(key), pollInterval: 20 * time.Millisecond,
		batchSize: 50, statusBaseURL: defaultStatusBaseURL, qrKey: hex.EncodeToString(qrKey.Seed())}
	for _, name := range demoStations() {
		st, err := parseStation("name=" + name + ",printer=virtual,reader=virtual,types=construction+cleaning+transport")
		if err != nil {
			return err
		}
		cfg.stations = append(cfg.stations, st)
	}
	svc, err := openService(ctx, cfg, a.log)
	if err != nil {
		return err
	}
	defer svc.close()
	step("database at %s (migrated)", cfg.databaseURL)
	if err := os.WriteFile(filepath.Join(out, "qr-public-key.txt"), []byte(hex.EncodeToString(qrKey.Public().(ed25519.PublicKey))+"\n"), 0o644); err != nil {
		return err
	}
	m, mp, err := demoMail(ctx, svc, cfg.statusBaseURL, qrKey)
	if err != nil {
		return err
	}
	defer mp.Stop()
	svc.mailer = m
	step("Mailpit (the orderers' mailbox) at %s", mp.URL)

	parts := &demoParts{printers: map[string]*printer.VirtualPrinter{}}
	svc.onVirtual = parts.add

	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- svc.run(runCtx) }()

	files, err := writeDemoOrders(ordersDir, nOrders, seed)
	if err != nil {
		stop()
		return err
	}
	step("submitting %d order messages from %s", len(files), ordersDir)
	if err := svc.bus.InitTopics(ctx, production.IntakeConsumerGroup, production.TopicOrdersApproved); err != nil {
		stop()
		return err
	}
	start := time.Now()
	for _, f := range files {
		payload, err := os.ReadFile(f)
		if err != nil {
			stop()
			return err
		}
		if _, err := submit(ctx, svc.bus, payload); err != nil {
			stop()
			return err
		}
	}
	if err := waitDrained(ctx, a, svc, len(files)); err != nil {
		stop()
		return err
	}
	step("all %d messages handled in %s", len(files), time.Since(start).Round(time.Millisecond))
	if err := waitMailed(ctx, a, svc); err != nil {
		stop()
		return err
	}
	mails, err := saveMails(ctx, mp, filepath.Join(out, "mail"))
	if err != nil {
		stop()
		return err
	}
	step("%d mails with temporary cards delivered to Mailpit, saved in %s", mails, filepath.Join(out, "mail"))
	if err := demoProduce(ctx, a, svc, parts, step); err != nil {
		stop()
		return err
	}
	stop()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if err := demoShip(ctx, svc, filepath.Join(out, "shipping"), cfg.statusBaseURL, qrKey, step); err != nil {
		return err
	}

	var summary bytes.Buffer
	if err := demoSummary(ctx, &summary, svc); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.txt"), summary.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	a.stdout.Write(summary.Bytes())
	fmt.Fprintf(a.stdout, "\nwhere to look:\n"+
		"  %[1]s/orders/     the order messages as submitted (NN-good-*.json, NN-bad-*.json)\n"+
		"  %[1]s/mail/       each orderer's mail: text, HTML and the temporary-card PDFs\n"+
		"  %[1]s/shipping/   the batch's labels (4×6 in PDF, A4 sheet, ZPL), carrier letters and manifest\n"+
		"  %[1]s/qr-public-key.txt  the key that verifies the QR codes (this run's own)\n"+
		"  %[1]s/cardline.log the service's log (JSON lines)\n"+
		"  %[1]s/summary.txt this summary\n", out)
	return nil
}

// demoStations names the demo's two virtual stations: an ippeveprinter card printer and a slot of
// the private pcscd's virtual reader each.
func demoStations() []string { return []string{"station-1", "station-2"} }

// demoParts are the virtual stations' printers, for the demo's injected faults.
type demoParts struct {
	mu       sync.Mutex
	printers map[string]*printer.VirtualPrinter
}

// add records a station's virtual parts as it starts. The first station's third blank is a chip
// that reports a write as done without keeping it: the read-back must catch it.
func (p *demoParts) add(station string, t *encoder.VirtualTransport, vp *printer.VirtualPrinter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printers[station] = vp
	if station == demoStations()[0] {
		t.QueueFaults(encoder.Faults{}, encoder.Faults{}, encoder.Faults{LoseWrite: 7})
	}
}

func (p *demoParts) printer(station string) *printer.VirtualPrinter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.printers[station]
}

// demoProduce loads blanks, plans the print batches, starts them as an operator would, and waits
// while the two virtual stations encode, verify and print every accepted card. On the way it plays
// the faults of a shift: a bad chip (queued in demoParts.add), a jam on the second station's
// printer, and the first station's ribbon running out, which parks it until an operator clears it.
func demoProduce(ctx context.Context, a *app, svc *service, parts *demoParts, step func(string, ...any)) error {
	names := demoStations()
	for _, st := range names {
		for _, t := range []production.CardType{production.Construction, production.Cleaning, production.Transport} {
			if err := svc.store.LoadBlanks(ctx, st, t, 250, "demo-operator"); err != nil {
				return err
			}
		}
	}
	batches, err := svc.store.PlanPrintBatches(ctx, svc.cfg.batchSize, "demo-operator")
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := svc.store.StartBatch(ctx, b.ID, "demo-operator"); err != nil {
			return err
		}
	}
	step("%d print batches planned and started; %s encode, verify and print", len(batches), strings.Join(names, " and "))
	step("fault: the third blank fed to %s has a bad chip (a write that does not stick): verify must catch it", names[0])
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	last := -1
	var jamAt time.Time
	jam, ribbon := 0, 0 // stages: 0 to come, 1 in play, 2 done
	for {
		var total, produced, held int
		err := svc.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE c.state <> 'blocked'), count(*) FILTER (WHERE c.state = 'produced'),
			count(*) FILTER (WHERE c.state = 'spoiled') FROM cards c`).Scan(&total, &produced, &held)
		if err != nil {
			return fmt.Errorf("watch production: %w", err)
		}
		if produced != last && (produced-last >= 10 || produced+held == total) {
			fmt.Fprintf(a.stdout, "  produced %d/%d\n", produced, total)
			last = produced
		}
		switch {
		case jam == 0 && produced >= total/5:
			if vp := parts.printer(names[1]); vp != nil {
				if err := vp.SetFault("jam"); err != nil {
					return err
				}
				step("fault: %s's printer jams", names[1])
			}
			jam, jamAt = 1, time.Now()
		case jam == 1 && time.Since(jamAt) > 1500*time.Millisecond:
			if vp := parts.printer(names[1]); vp != nil {
				if err := vp.SetFault(""); err != nil {
					return err
				}
			}
			jam = 2
		}
		if ribbon == 0 && produced >= total/2 {
			if vp := parts.printer(names[0]); vp != nil {
				if err := vp.SetFault("ribbon-out"); err != nil {
					return err
				}
				step("fault: %s's ribbon runs out", names[0])
			}
			ribbon = 1
		}
		if ribbon == 1 {
			sts, err := svc.store.Stations(ctx)
			if err != nil {
				return err
			}
			for _, st := range sts {
				if st.Name == names[0] && st.State == production.StationParked {
					with := ""
					if st.ParkedCard != "" {
						with = " with card " + st.ParkedCard
					}
					step("%s parked%s: %s; %s carries on; the operator changes the ribbon and clears it",
						st.Name, with, st.Fault, names[1])
					if vp := parts.printer(names[0]); vp != nil {
						if err := vp.SetFault(""); err != nil {
							return err
						}
					}
					if err := svc.store.ClearStation(ctx, st.Name, "demo-operator"); err != nil {
						return err
					}
					ribbon = 2
				}
			}
		}
		if produced+held == total {
			if ribbon == 1 { // the station never printed again before the work ran out
				if vp := parts.printer(names[0]); vp != nil {
					_ = vp.SetFault("")
				}
			}
			step("%d cards produced in %s (%d held for an operator)", produced, time.Since(start).Round(time.Second), held)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %d of %d cards still not produced after 5 minutes (see cardline.log)", total-produced, total)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// waitMailed waits until every accepted order's temporary-card mail is sent (or failed for good).
func waitMailed(ctx context.Context, a *app, svc *service) error {
	deadline := time.Now().Add(2 * time.Minute)
	last := -1
	for {
		var accepted, done int
		err := svc.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders WHERE state <> 'rejected'),
			(SELECT count(DISTINCT order_id) FROM mail_outbox WHERE state IN ('sent', 'failed'))`).Scan(&accepted, &done)
		if err != nil {
			return fmt.Errorf("watch mail outbox: %w", err)
		}
		if done != last {
			fmt.Fprintf(a.stdout, "  mailed %d/%d\n", done, accepted)
			last = done
		}
		if done >= accepted {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %d of %d orders still not mailed after 2 minutes", accepted-done, accepted)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeDemoOrders writes the demo's order messages, good and bad, as files, in submission order.
func writeDemoOrders(dir string, n int, seed uint64) ([]string, error) {
	s := production.NewSamples(seed)
	now := time.Now()
	var files []string
	write := func(name string, payload []byte) error {
		f := filepath.Join(dir, fmt.Sprintf("%02d-%s.json", len(files)+1, name))
		files = append(files, f)
		return os.WriteFile(f, payload, 0o644)
	}
	enc := func(m *production.OrderApproved) []byte {
		b, _ := json.MarshalIndent(m, "", "  ")
		return b
	}
	var good []*production.OrderApproved
	for i := range n {
		m := s.Order(1+i%4, now.Add(-time.Duration(i)*47*time.Minute))
		if i%10 == 7 {
			// A lost card issued before this line: the new card replaces it (nothing of ours to block).
			old, err := production.NewCardNumber(int64(4_200_000 + i))
			if err != nil {
				return nil, err
			}
			num := string(old)
			m.Cards[0].ReplacesCard = &num
		}
		good = append(good, m)
		if err := write("good-"+m.OrderID, enc(m)); err != nil {
			return nil, err
		}
	}
	bad := func(name string, edit func(m *production.OrderApproved)) error {
		m := s.Order(1, now.Add(-time.Hour))
		edit(m)
		return write("bad-"+name, enc(m))
	}
	steps := []error{
		bad("org-number", func(m *production.OrderApproved) { m.Company.OrgNumber = "923609017" }),
		bad("national-id", func(m *production.OrderApproved) { m.Cards[0].Holder.NationalID = "17059012345" }),
		bad("landscape-photo-and-gender", func(m *production.OrderApproved) {
			m.Cards[0].Photo.Data = s.LandscapePhotoBase64()
			m.Cards[0].Holder.Gender = "male"
		}),
		bad("street-too-long-for-a-label", func(m *production.OrderApproved) {
			m.DeliveryAddress.Street = "Industriområdetsmaskinverkstedvegen 4"
		}),
		bad("postal-code-and-email", func(m *production.OrderApproved) {
			m.DeliveryAddress.PostalCode = "NO-155"
			m.Orderer.Email = "kari(at)bygg"
		}),
		bad("same-worker-again", func(m *production.OrderApproved) {
			m.Company = good[0].Company
			m.Cards[0].Holder = good[0].Cards[0].Holder
		}),
		write("bad-unknown-field", bytes.Replace(enc(s.Order(1, now)), []byte(`"card_type"`), []byte(`"priority": "high", "card_type"`), 1)),
		write("bad-truncated-json", enc(s.Order(1, now))[:300]),
		write("bad-not-an-order", []byte("hello, is this the card office?")),
		write("replay-"+good[1].OrderID, enc(good[1])),
	}
	conflict := *good[2]
	conflict.Orderer.Email = "someone.else@bygg.example"
	steps = append(steps, write("conflict-"+conflict.OrderID, enc(&conflict)))
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

func waitDrained(ctx context.Context, a *app, svc *service, total int) error {
	deadline := time.Now().Add(2 * time.Minute)
	last := -1
	for {
		var left int
		if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM `+bus.Table(production.TopicOrdersApproved)).Scan(&left); err != nil {
			return fmt.Errorf("watch input topic: %w", err)
		}
		if left != last {
			fmt.Fprintf(a.stdout, "  handled %d/%d\n", total-left, total)
			last = left
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %d messages still unhandled after 2 minutes", left)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func demoSummary(ctx context.Context, w io.Writer, svc *service) error {
	orders, err := svc.store.ListOrders(ctx, "", 10000)
	if err != nil {
		return err
	}
	unreadable, err := svc.store.ListUnreadable(ctx, 1000)
	if err != nil {
		return err
	}
	counts := map[production.OrderState]int{}
	cards := 0
	for _, o := range orders {
		counts[o.State]++
		cards += o.Cards
	}
	fmt.Fprintf(w, "orders accepted: %d (%d cards queued; %d orders since dispatched)   rejected: %d   unreadable messages: %d\n",
		len(orders)-counts[production.OrderRejected], cards, counts[production.OrderDispatched], counts[production.OrderRejected], len(unreadable))
	var conflicts int
	if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM intake_conflicts`).Scan(&conflicts); err != nil {
		return err
	}
	fmt.Fprintf(w, "conflicting re-sends recorded: %d (the first order stands); replays changed nothing\n", conflicts)
	var replacements, blocked int
	if err := svc.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE replaces_card IS NOT NULL), count(*) FILTER (WHERE state = 'blocked')
		FROM cards`).Scan(&replacements, &blocked); err != nil {
		return err
	}
	fmt.Fprintf(w, "replacement cards: %d (of cards issued before this line; %d of our own cards blocked)\n", replacements, blocked)
	fmt.Fprintln(w, "events published:")
	for _, t := range append(slices.Clone(production.OutputTopics), shipping.TopicOrdersDispatched) {
		var n int
		if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM `+bus.Table(t)).Scan(&n); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-26s %d\n", t, n)
	}
	fmt.Fprintln(w)
	printOrders(w, orders, unreadable)
	fmt.Fprintln(w, "\n"+strings.Repeat("─", 60))
	var sent, failed int
	if err := svc.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'failed') FROM mail_outbox`).Scan(&sent, &failed); err != nil {
		return err
	}
	fmt.Fprintf(w, "temporary-card mails: %d sent, %d failed\n", sent, failed)
	if err := printSlack(ctx, w, svc); err != nil {
		return err
	}
	var attempts, spoiled, voidChips, goodChips int
	if err := svc.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM card_attempts), (SELECT count(*) FROM card_attempts WHERE outcome = 'spoiled'),
		(SELECT count(*) FROM card_chips WHERE state = 'void'), (SELECT count(*) FROM card_chips WHERE state = 'good')`).Scan(&attempts, &spoiled, &voidChips, &goodChips); err != nil {
		return err
	}
	fmt.Fprintf(w, "stations: %d attempts, %d spoiled and remade, %d good chips, %d void chips\n", attempts, spoiled, goodChips, voidChips)
	stock, err := svc.store.Stock(ctx)
	if err != nil {
		return err
	}
	printStock(w, stock)
	return nil
}

// printSlack says how much room each dispatched order had left: Norwegian business days between
// the day it left and the last day it could leave (its dispatch_by), as a histogram.
func printSlack(ctx context.Context, w io.Writer, svc *service) error {
	cal, err := production.NewBusinessDays()
	if err != nil {
		return err
	}
	rows, err := svc.pool.Query(ctx, `SELECT dispatched_at, dispatch_by FROM order_dispatch WHERE complete`)
	if err != nil {
		return fmt.Errorf("deadline slack: %w", err)
	}
	type dispatch struct{ At, By time.Time }
	ds, err := pgx.CollectRows(rows, pgx.RowToStructByPos[dispatch])
	if err != nil {
		return fmt.Errorf("deadline slack: %w", err)
	}
	slack := map[int]int{}
	late := 0
	for _, d := range ds {
		day := cal.Add(d.At, 0) // midnight of the day it left, in Oslo
		by := time.Date(d.By.Year(), d.By.Month(), d.By.Day(), 0, 0, 0, 0, cal.Zone())
		if day.After(by) {
			late++
			continue
		}
		n := 0
		for !cal.Add(day, n+1).After(by) {
			n++
		}
		slack[n]++
	}
	fmt.Fprintf(w, "deadline slack of %d dispatched orders (business days to spare):", len(ds))
	for _, n := range slices.Sorted(maps.Keys(slack)) {
		fmt.Fprintf(w, "  %d days: %d", n, slack[n])
	}
	fmt.Fprintf(w, "  late: %d\n", late)
	return nil
}
