package main

// The fault run (issue 7): the line under the faults of a bad shift, then a check that nothing was
// lost or done twice. `cardline serve` runs as a child process so that it can be killed with
// SIGKILL and restarted. The parent reaches the child's virtual parts through files in the folder
// it gives the child with --virtual-dir (the simplest mechanism that survives a restart):
//
//	DIR/STATION/fault        the virtual printer's fault (jam, ribbon-out, media-empty, …), read by
//	                         ippeveprinter's job script on every job, as VirtualPrinter.SetFault writes it
//	DIR/STATION/chip-faults  lines "lose-write N" or "tear N": the child queues them on the station's
//	                         VirtualTransport (next blanks fed) and removes the file
//	DIR/pcscd/kill           the child kills its pcscd with SIGKILL (a crash of the daemon) and removes it;
//	                         the child starts it again by itself, as systemd would (PCSCD.Supervise)
//
// A SIGKILL of the child also kills its pcscd and printers; the restarted child starts new ones.

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cardline/encoder"
	"cardline/internal/mailpit"
	"cardline/internal/pgcluster"
	"cardline/production"
)

func faultrunCommand() command {
	return command{name: "faultrun", summary: "run the line under kills, printer, chip and pcscd faults, then check nothing was lost or doubled", run: func(ctx context.Context, a *app, args []string) error {
		fs := newFlags(a, "cardline faultrun", "", "Starts a throwaway PostgreSQL and Mailpit, runs `cardline serve` with two virtual "+
			"stations as a child process, submits orders and starts their print batches, and meanwhile kills the service "+
			"(SIGKILL) at random moments, jams printers, runs out of ribbon and media, loses chip writes, tears cards and "+
			"kills pcscd. Then it lets the line run clean, ships and dispatches, and checks: every accepted order dispatched "+
			"or waiting for a stated reason, no card number on two good chips, no order mailed twice, every attempt closed, "+
			"the stock book matching the attempts. Exits non-zero if a check fails.")
		var o faultOptions
		fs.IntVar(&o.orders, "orders", 40, "orders to submit (1–3 cards each)")
		fs.IntVar(&o.kills, "kills", 5, "SIGKILLs of the service")
		fs.Uint64Var(&o.seed, "seed", 7, "seed of the orders and of the fault moments")
		fs.DurationVar(&o.duration, "duration", 5*time.Minute, "stop injecting faults after this long; then the line runs clean")
		fs.StringVar(&o.out, "out", "faultrun-out", "folder for the service's log and the shipping papers (emptied first)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		o.all = true
		r, err := runFaultRun(ctx, a.stdout, o)
		if err != nil {
			return err
		}
		if failed := r.failed(); len(failed) > 0 {
			return fmt.Errorf("faultrun: %d checks failed: %s", len(failed), strings.Join(failed, "; "))
		}
		return nil
	}}
}

type faultOptions struct {
	orders, kills int
	seed          uint64
	duration      time.Duration
	out           string
	// all plays every kind of fault; else one jam and one lost write besides the kills (the test).
	all bool
	// databaseURL and mail, when set, are used instead of a throwaway cluster and Mailpit.
	databaseURL string
	mail        *mailpit.Server
	// child is the command line of `cardline` (default: this executable) and its extra environment.
	child []string
	// childArgsEnv, when set, names the environment variable that carries serve's arguments (as
	// JSON) instead of the command line: the test's child is the test binary.
	childArgsEnv string
}

// faultReport is what the run did and what the checks found.
type faultReport struct {
	orders, cards, produced, held, dispatched int
	kills, restarts                           int
	played                                    []string
	checks                                    []faultCheck
}

type faultCheck struct {
	name string
	ok   bool
	note string
}

func (r *faultReport) failed() []string {
	var out []string
	for _, c := range r.checks {
		if !c.ok {
			out = append(out, c.name+": "+c.note)
		}
	}
	return out
}

func (r *faultReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nfault run: %d orders, %d cards: %d produced, %d held for an operator; %d orders dispatched\n",
		r.orders, r.cards, r.produced, r.held, r.dispatched)
	fmt.Fprintf(w, "faults played: %d SIGKILLs of the service, %d starts of it; %s\n", r.kills, r.restarts, strings.Join(r.played, ", "))
	for _, c := range r.checks {
		mark := "ok  "
		if !c.ok {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s", mark, c.name)
		if c.note != "" {
			fmt.Fprintf(w, ": %s", c.note)
		}
		fmt.Fprintln(w)
	}
}

// faultEvent is one fault to play once production has passed at fraction of the cards.
type faultEvent struct {
	at      float64
	kind    string // kill, jam, ribbon-out, media-empty, lose-write, tear, pcscd
	station string
	mailing bool // instead of at: as soon as the first temporary-card mail is sent
}

func faultPlan(o faultOptions, rng *mrand.Rand) []faultEvent {
	names := demoStations()
	var ev []faultEvent
	for i := range o.kills {
		// In the full run the first kill falls while the temporary cards are being mailed: the mails
		// it cuts short wait for their lease (2 × --smtp-timeout + 1 min) and go again.
		ev = append(ev, faultEvent{at: 0.05 + 0.6*rng.Float64(), kind: "kill", mailing: i == 0 && o.all})
	}
	frac := func() float64 { return 0.1 + 0.6*rng.Float64() }
	ev = append(ev, faultEvent{at: frac(), kind: "jam", station: names[1]}, faultEvent{at: frac(), kind: "lose-write", station: names[0]})
	if o.all {
		ev = append(ev, faultEvent{at: frac(), kind: "ribbon-out", station: names[0]}, faultEvent{at: frac(), kind: "media-empty", station: names[1]},
			faultEvent{at: frac(), kind: "tear", station: names[1]}, faultEvent{at: frac(), kind: "pcscd"})
	}
	sort.Slice(ev, func(i, j int) bool { return ev[i].mailing || !ev[j].mailing && ev[i].at < ev[j].at })
	return ev
}

// faultChild is the service under test, run as a child process.
type faultChild struct {
	argv, env []string
	log       *os.File
	cmd       *exec.Cmd
	done      chan error
	starts    int
}

func (c *faultChild) start() error {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the service: %w", err)
	}
	c.cmd, c.done = cmd, make(chan error, 1)
	go func() { c.done <- cmd.Wait() }()
	c.starts++
	return nil
}

// stop ends the child with sig and waits (SIGKILL after 20 s if SIGTERM is not heeded).
func (c *faultChild) stop(sig syscall.Signal) {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
}

func runFaultRun(ctx context.Context, stdout io.Writer, o faultOptions) (*faultReport, error) {
	step := func(format string, args ...any) {
		fmt.Fprintf(stdout, "%s ▸ %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	if err := freshOutDir(o.out); err != nil {
		return nil, err
	}
	if o.databaseURL == "" {
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			return nil, err
		}
		defer func() {
			// The server's log stays in the output folder: deadlocks and the like are reported there.
			if b, err := os.ReadFile(filepath.Join(cluster.Dir, "server.log")); err == nil {
				_ = os.WriteFile(filepath.Join(o.out, "postgres.log"), b, 0o644)
			}
			cluster.Stop()
		}()
		if err := cluster.CreateDatabase(ctx, "cardline"); err != nil {
			return nil, err
		}
		o.databaseURL = cluster.URL("cardline")
	}
	if o.mail == nil {
		mp, err := mailpit.Start(ctx, mailpit.Options{})
		if err != nil {
			return nil, fmt.Errorf("faultrun: %w", err)
		}
		defer mp.Stop()
		o.mail = mp
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	_, qrKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	cfg := config{databaseURL: o.databaseURL, holderKey: hex.EncodeToString(key), pollInterval: 20 * time.Millisecond,
		batchSize: 50, statusBaseURL: defaultStatusBaseURL, qrKey: hex.EncodeToString(qrKey.Seed())}
	svc, err := openService(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer svc.close()

	// The virtual parts' folder: short, as the printer's bus socket path must fit in 108 bytes.
	vdir, err := os.MkdirTemp("", "clfr")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(vdir)
	logFile, err := os.Create(filepath.Join(o.out, "cardline.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	argv := o.child
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		argv = []string{exe}
	}
	serve := []string{"serve", "--database-url", cfg.databaseURL, "--smtp-addr", o.mail.SMTPAddr,
		"--smtp-starttls", "off", "--smtp-timeout", "5s", "--mail-from", "HMS-kort <hms-kort@cardline.example>", "--http-addr", "", "--plan-every", "1h",
		"--virtual-dir", vdir}
	for _, name := range demoStations() {
		serve = append(serve, "--station", "name="+name+",printer=virtual,reader=virtual,types=construction+cleaning+transport")
	}
	// The keys go by environment, not on the command line (ps shows it).
	env := []string{"CARDLINE_HOLDER_KEY=" + cfg.holderKey, envQRSigningKey + "=" + cfg.qrKey, "CARDLINE_LOG_FORMAT=json"}
	if o.childArgsEnv != "" {
		b, _ := json.Marshal(serve)
		env = append(env, o.childArgsEnv+"="+string(b))
	} else {
		argv = append(append([]string(nil), argv...), serve...)
	}
	child := &faultChild{argv: argv, env: env, log: logFile}
	if err := child.start(); err != nil {
		return nil, err
	}
	defer child.stop(syscall.SIGTERM)
	step("service started as a child process (log %s, virtual parts in %s)", logFile.Name(), vdir)

	r := &faultReport{}
	// Orders.
	if err := svc.bus.InitTopics(ctx, production.IntakeConsumerGroup, production.TopicOrdersApproved); err != nil {
		return nil, err
	}
	samples := production.NewSamples(o.seed)
	for i := range o.orders {
		m := samples.Order(1+i%3, time.Now().Add(-time.Duration(i)*31*time.Minute))
		payload, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if _, err := submit(ctx, svc.bus, payload); err != nil {
			return nil, err
		}
	}
	for _, st := range demoStations() {
		for _, t := range []production.CardType{production.Construction, production.Cleaning, production.Transport} {
			if err := svc.store.LoadBlanks(ctx, st, t, 1000, "faultrun"); err != nil {
				return nil, err
			}
		}
	}
	step("%d orders submitted; 1000 blanks of each type loaded at each station", o.orders)

	rng := mrand.New(mrand.NewPCG(o.seed, o.seed^0x5eed))
	plan := faultPlan(o, rng)
	if err := produceUnderFaults(ctx, o, svc, child, vdir, plan, r, step); err != nil {
		return r, err
	}
	if err := faultWaitMailed(ctx, svc, o.orders); err != nil {
		return r, err
	}
	child.stop(syscall.SIGTERM)
	step("service stopped; shipping what was produced")
	if err := demoShip(ctx, svc, filepath.Join(o.out, "shipping"), cfg.statusBaseURL, qrKey, step); err != nil {
		return r, err
	}
	if err := faultChecks(ctx, svc, o.mail, r); err != nil {
		return r, err
	}
	r.restarts = child.starts
	r.print(stdout)
	return r, nil
}

// produceUnderFaults starts print batches as they are planned and plays the fault plan while the
// stations work, until every card is produced or held and no fault is in play.
func produceUnderFaults(ctx context.Context, o faultOptions, svc *service, child *faultChild, vdir string, plan []faultEvent,
	r *faultReport, step func(string, ...any)) error {
	start := time.Now()
	injectUntil := start.Add(o.duration)
	deadline := injectUntil.Add(3 * time.Minute)
	var (
		inPlay                     *faultEvent // a printer fault or pcscd kill waiting to be resolved
		playedAt                   time.Time
		last                       = -1
		jamsBefore, failuresBefore int
	)
	printerFault := func(station, fault string) error {
		p := filepath.Join(vdir, station, "fault")
		if err := os.WriteFile(p+".tmp", []byte(fault+"\n"), 0o644); err != nil {
			return err
		}
		return os.Rename(p+".tmp", p)
	}
	restart := func(sig syscall.Signal) error {
		child.stop(sig)
		return child.start()
	}
	for {
		// Plan and start what intake has queued, as the operator would with `cardline batch`.
		batches, err := svc.store.PlanPrintBatches(ctx, 50, "faultrun")
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := svc.store.StartBatch(ctx, b.ID, "faultrun"); err != nil {
				return err
			}
		}
		var accepted, total, produced, held int
		err = svc.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders WHERE state <> 'rejected'),
			count(*), count(*) FILTER (WHERE state = 'produced'), count(*) FILTER (WHERE state = 'spoiled' AND hold IS NOT NULL)
			FROM cards WHERE state <> 'blocked'`).Scan(&accepted, &total, &produced, &held)
		if err != nil {
			return fmt.Errorf("watch production: %w", err)
		}
		if produced != last && (produced-last >= 10 || produced == total) {
			step("produced %d/%d (%d held)", produced, total, held)
			last = produced
		}
		stations, err := svc.store.Stations(ctx)
		if err != nil {
			return err
		}
		injecting := time.Now().Before(injectUntil)
		if !injecting && len(plan) > 0 {
			for _, e := range plan {
				r.played = append(r.played, e.kind+" not played (time up)")
			}
			plan = nil
		}
		// Resolve the fault in play.
		if inPlay != nil {
			parked := parkedStation(stations, inPlay.station)
			switch inPlay.kind {
			case "jam":
				// A jam is one card's: the operator pulls it out, and the next job prints.
				var jams int
				if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM card_attempts WHERE reason ILIKE '%jam%'`).Scan(&jams); err != nil {
					return err
				}
				if jams > jamsBefore || time.Since(playedAt) > 20*time.Second || !injecting {
					if err := printerFault(inPlay.station, ""); err != nil {
						return err
					}
					inPlay = nil
				}
			case "lose-write", "tear":
				// In play until a card is spoiled for a reason of its own, so that no kill takes the
				// queued fault away with the service before a blank carries it.
				n, err := cardFailures(ctx, svc)
				if err != nil {
					return err
				}
				if n > failuresBefore || time.Since(playedAt) > 20*time.Second || !injecting {
					if n <= failuresBefore {
						r.played = append(r.played, inPlay.kind+" not seen to fail a card")
					}
					inPlay = nil
				}
			case "media-empty":
				if time.Since(playedAt) > 2*time.Second || !injecting {
					if err := printerFault(inPlay.station, ""); err != nil {
						return err
					}
					inPlay = nil
				}
			case "ribbon-out":
				if parked != nil || time.Since(playedAt) > 20*time.Second || !injecting {
					if parked != nil {
						step("%s parked: %s; ribbon changed", parked.Name, parked.Fault)
					}
					if err := printerFault(inPlay.station, ""); err != nil {
						return err
					}
					inPlay = nil
				}
			case "pcscd":
				// The service restarts its pcscd itself (PCSCD.Supervise); the operator only clears
				// the parked stations, below.
				if p := parkedStation(stations, ""); p != nil || time.Since(playedAt) > 20*time.Second {
					if p != nil {
						step("%s parked: %s; pcscd restarted by the service", p.Name, p.Fault)
						r.played = append(r.played, "pcscd death parked "+p.Name)
					} else {
						r.played = append(r.played, "pcscd death parked no station")
						step("no station parked 20 s after pcscd died")
					}
					inPlay = nil
				}
			}
		}
		// An operator clears a parked station once its fault is fixed.
		if inPlay == nil {
			for _, st := range stations {
				if st.State == production.StationParked {
					step("station clear %s (parked with %q: %s)", st.Name, st.ParkedCard, st.Fault)
					if err := svc.store.ClearStation(ctx, st.Name, "faultrun"); err != nil {
						return err
					}
				}
			}
		}
		done := total > 0 && total >= accepted && produced+held == total
		var mailed int
		if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE state = 'sent'`).Scan(&mailed); err != nil {
			return err
		}
		due := len(plan) > 0 && (float64(produced)/float64(max(total, 1)) >= plan[0].at || done)
		if len(plan) > 0 && plan[0].mailing {
			due = mailed > 0 || done
		}
		if inPlay == nil && due {
			e := plan[0]
			plan = plan[1:]
			r.played = append(r.played, strings.TrimSpace(e.kind+" "+e.station)) // kills and pcscd deaths name no station
			switch e.kind {
			case "kill":
				step("fault: SIGKILL of the service (%d of %d temporary-card mails sent)", mailed, accepted)
				r.kills++
				if err := restart(syscall.SIGKILL); err != nil {
					return err
				}
			case "jam", "ribbon-out", "media-empty":
				step("fault: %s's printer: %s", e.station, e.kind)
				if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM card_attempts WHERE reason ILIKE '%jam%'`).Scan(&jamsBefore); err != nil {
					return err
				}
				if err := printerFault(e.station, e.kind); err != nil {
					return err
				}
				inPlay, playedAt = &e, time.Now()
			case "lose-write", "tear":
				n := 2 + rng2(e.at)
				step("fault: %s's next blank: %s after block write %d", e.station, e.kind, n)
				if failuresBefore, err = cardFailures(ctx, svc); err != nil {
					return err
				}
				inPlay, playedAt = &e, time.Now()
				if err := os.WriteFile(filepath.Join(vdir, e.station, "chip-faults"), []byte(fmt.Sprintf("%s %d\n", e.kind, n)), 0o644); err != nil {
					return err
				}
			case "pcscd":
				step("fault: pcscd killed")
				if err := os.WriteFile(filepath.Join(vdir, "pcscd", "kill"), nil, 0o644); err != nil {
					return err
				}
				inPlay, playedAt = &e, time.Now()
			}
			continue
		}
		if done && inPlay == nil && len(plan) == 0 {
			r.cards, r.produced, r.held = total, produced, held
			step("settled after %s: %d produced, %d held", time.Since(start).Round(time.Second), produced, held)
			return nil
		}
		if time.Now().After(deadline) {
			r.cards, r.produced, r.held = total, produced, held
			step("not settled 3 minutes after the faults stopped: %d of %d cards still in the line", total-produced-held, total)
			return nil // the checks say which orders wait and why
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// cardFailures counts attempts spoiled for a card's own fault (not cut short by a crash or park).
func cardFailures(ctx context.Context, svc *service) (int, error) {
	var n int
	err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM card_attempts WHERE outcome = 'spoiled' AND reason NOT LIKE 'interrupted at step%'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count card failures: %w", err)
	}
	return n, nil
}

// rng2 picks a block write number (2..9) from the event's random moment, so it follows the seed.
func rng2(at float64) int { return int(at*1000) % 8 }

func parkedStation(sts []production.StationStatus, name string) *production.StationStatus {
	for i, s := range sts {
		if s.State == production.StationParked && (name == "" || s.Name == name) {
			return &sts[i]
		}
	}
	return nil
}

func faultWaitMailed(ctx context.Context, svc *service, orders int) error {
	deadline := time.Now().Add(3 * time.Minute) // beyond the lease of a mail cut short by a kill
	for {
		var accepted, done int
		err := svc.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders WHERE state <> 'rejected'),
			(SELECT count(DISTINCT order_id) FROM mail_outbox WHERE state IN ('sent', 'failed'))`).Scan(&accepted, &done)
		if err != nil {
			return fmt.Errorf("watch mail outbox: %w", err)
		}
		if done >= accepted || time.Now().After(deadline) {
			return nil // the mail check reports what is missing
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// faultChecks checks what the run left behind.
func faultChecks(ctx context.Context, svc *service, mp *mailpit.Server, r *faultReport) error {
	check := func(name string, ok bool, note string) { r.checks = append(r.checks, faultCheck{name, ok, note}) }
	q := func(sql string, args ...any) ([][]string, error) {
		rows, err := svc.pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, fmt.Errorf("faultrun check: %w", err)
		}
		defer rows.Close()
		var out [][]string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return nil, err
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = fmt.Sprint(v)
			}
			out = append(out, row)
		}
		return out, rows.Err()
	}

	// Every accepted order dispatched, or waiting for a stated reason.
	if err := svc.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state <> 'rejected'), count(*) FILTER (WHERE state = 'dispatched') FROM orders`).
		Scan(&r.orders, &r.dispatched); err != nil {
		return err
	}
	waiting, err := q(`SELECT o.order_id, o.state,
			coalesce(string_agg(c.card_number || ' ' || c.state || coalesce(' (held: ' || c.hold || ')', '') ||
				coalesce(' at parked ' || s.name || ': ' || s.fault, ''), '; ') FILTER (WHERE c.state <> 'produced'), '')
		FROM orders o JOIN cards c ON c.order_id = o.order_id
		LEFT JOIN stations s ON s.parked_card = c.card_number AND s.state = 'parked'
		WHERE o.state NOT IN ('rejected', 'dispatched') GROUP BY o.order_id, o.state ORDER BY 1`)
	if err != nil {
		return err
	}
	var unexplained, explained []string
	for _, w := range waiting {
		if strings.Contains(w[2], "held:") || strings.Contains(w[2], "at parked") {
			explained = append(explained, w[0]+": "+w[2])
		} else {
			unexplained = append(unexplained, w[0]+" ("+w[1]+"): "+w[2])
		}
	}
	note := fmt.Sprintf("%d of %d dispatched", r.dispatched, r.orders)
	if len(explained) > 0 {
		note += "; waiting with a reason: " + strings.Join(explained, " | ")
	}
	if len(unexplained) > 0 {
		note += "; WAITING WITHOUT A REASON: " + strings.Join(unexplained, " | ")
	}
	check("every order dispatched or waiting for a stated reason", len(unexplained) == 0 && r.orders > 0, note)

	// No card number on two good chips, no chip (UID) good for two cards.
	dup, err := q(`SELECT card_number FROM card_chips WHERE state = 'good' GROUP BY 1 HAVING count(*) > 1
		UNION ALL SELECT encode(uid, 'hex') FROM card_chips WHERE state = 'good' GROUP BY uid HAVING count(*) > 1`)
	if err != nil {
		return err
	}
	var goodChips, voidChips int
	if err := svc.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'good'), count(*) FILTER (WHERE state = 'void') FROM card_chips`).
		Scan(&goodChips, &voidChips); err != nil {
		return err
	}
	noGood, err := q(`SELECT c.card_number FROM cards c WHERE c.state = 'produced'
		AND NOT EXISTS (SELECT 1 FROM card_chips k WHERE k.card_number = c.card_number AND k.state = 'good')`)
	if err != nil {
		return err
	}
	check("no card number on two good chips", len(dup) == 0 && len(noGood) == 0,
		fmt.Sprintf("%d good chips, %d void; duplicates %v; produced without a good chip %v", goodChips, voidChips, dup, noGood))

	// No order mailed twice: one accepted mail per order in the outbox, one Message-ID per order at Mailpit.
	outbox, err := q(`SELECT order_id, count(*), string_agg(state, ',') FROM mail_outbox WHERE kind = 'accepted' GROUP BY 1`)
	if err != nil {
		return err
	}
	msgs, err := mp.Messages(ctx)
	if err != nil {
		return err
	}
	ids := map[string]map[string]int{}
	for _, m := range msgs {
		h, err := mp.Headers(ctx, m.ID)
		if err != nil {
			return err
		}
		order := strings.Join(h["X-Cardline-Order"], ",")
		if ids[order] == nil {
			ids[order] = map[string]int{}
		}
		ids[order][m.MessageID]++
	}
	var twice, resent, unsent []string
	for _, o := range outbox {
		if n, _ := strconv.Atoi(o[1]); n != 1 || o[2] != "sent" {
			unsent = append(unsent, o[0]+": "+o[1]+" outbox rows "+o[2])
		}
		switch ids[o[0]] {
		case nil:
			unsent = append(unsent, o[0]+": no mail at Mailpit")
		}
	}
	for order, m := range ids {
		if len(m) > 1 {
			twice = append(twice, fmt.Sprintf("%s: %d Message-IDs", order, len(m)))
		}
		for id, n := range m {
			if n > 1 {
				resent = append(resent, fmt.Sprintf("%s: %s delivered %d times", order, id, n))
			}
		}
	}
	note = fmt.Sprintf("%d mails at Mailpit for %d outbox rows", len(msgs), len(outbox))
	if len(resent) > 0 {
		note += "; the same mail delivered again (one Message-ID, so one mail to the reader): " + strings.Join(resent, " | ")
	}
	if len(unsent) > 0 {
		note += "; NOT SENT: " + strings.Join(unsent, " | ")
	}
	if len(twice) > 0 {
		note += "; MAILED TWICE: " + strings.Join(twice, " | ")
	}
	check("no order mailed twice (and every order mailed)", len(twice) == 0 && len(unsent) == 0 && len(outbox) == r.orders, note)

	// Every attempt closed.
	open, err := q(`SELECT card_number || ' at ' || station FROM card_attempts WHERE outcome IS NULL`)
	if err != nil {
		return err
	}
	var attempts, spoiled int
	if err := svc.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE outcome = 'spoiled') FROM card_attempts`).Scan(&attempts, &spoiled); err != nil {
		return err
	}
	check("every card's attempts closed", len(open) == 0, fmt.Sprintf("%d attempts, %d spoiled; open: %v", attempts, spoiled, open))

	// The stock book: blanks booked used = attempts closed past the feed, per station, type and outcome.
	diff, err := q(`WITH book AS (
			SELECT station, card_type, kind, sum(quantity)::int AS n FROM blank_stock WHERE kind IN ('produced', 'spoiled') GROUP BY 1, 2, 3),
		used AS (
			SELECT a.station, c.card_type, a.outcome AS kind, count(*)::int AS n FROM card_attempts a JOIN cards c USING (card_number)
			WHERE a.outcome IS NOT NULL AND a.step <> 'claimed' GROUP BY 1, 2, 3) -- a claimed card has no blank yet
		SELECT coalesce(b.station, u.station) || ' ' || coalesce(b.card_type, u.card_type) || ' ' || coalesce(b.kind, u.kind) ||
			': book ' || coalesce(b.n, 0) || ', attempts ' || coalesce(u.n, 0)
		FROM book b FULL JOIN used u ON b.station = u.station AND b.card_type = u.card_type AND b.kind = u.kind
		WHERE coalesce(b.n, 0) <> coalesce(u.n, 0)`)
	if err != nil {
		return err
	}
	stock, err := svc.store.Stock(ctx)
	if err != nil {
		return err
	}
	var neg []string
	for _, l := range stock {
		if l.Remaining < 0 || l.Loaded != l.Produced+l.Spoiled+l.Remaining {
			neg = append(neg, fmt.Sprintf("%s %s", l.Station, l.CardType))
		}
	}
	check("stock book balanced (blanks used = attempts)", len(diff) == 0 && len(neg) == 0, fmt.Sprintf("differences %v %v", diff, neg))
	return nil
}

// virtualPartDir is the folder of a station's virtual printer: under dir when serve has
// --virtual-dir (fixed, so that `cardline faultrun` can set its faults), else a throwaway one.
func virtualPartDir(dir, station string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "vprn")
	}
	d := filepath.Join(dir, station)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("virtual printer folder: %w", err)
	}
	return d, nil
}

// watchChipFaults queues the chip faults written to dir/chip-faults on the station's transport.
func watchChipFaults(ctx context.Context, dir string, vt *encoder.VirtualTransport, log *slog.Logger) {
	p := filepath.Join(dir, "chip-faults")
	for ctx.Err() == nil {
		if err := os.Rename(p, p+".taken"); err == nil {
			f, err := os.Open(p + ".taken")
			if err == nil {
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					kind, n, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
					k, err := strconv.Atoi(n)
					if err != nil || k < 1 {
						log.Warn("chip fault not understood", "line", sc.Text())
						continue
					}
					switch kind {
					case "lose-write":
						vt.QueueFaults(encoder.Faults{LoseWrite: k})
					case "tear":
						vt.QueueFaults(encoder.Faults{TearAfterWrites: k})
					default:
						log.Warn("chip fault not understood", "line", sc.Text())
						continue
					}
					log.Info("chip fault queued for the next blank", "fault", kind, "write", k)
				}
				f.Close()
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			log.Warn("read chip faults", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watchPCSCDKill kills the station's pcscd, as a crash would, when dir/kill appears.
func watchPCSCDKill(ctx context.Context, dir string, d *encoder.PCSCD, log *slog.Logger) {
	p := filepath.Join(dir, "kill")
	for ctx.Err() == nil {
		if err := os.Remove(p); err == nil {
			log.Warn("killing pcscd (injected fault)")
			d.Kill()
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
