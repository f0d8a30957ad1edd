package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"cardline/encoder"
	"cardline/printer"
	"cardline/production"
)

// envStations configures the stations serve runs: station specs separated by ';'.
const envStations = "CARDLINE_STATIONS"

const stationSpecHelp = "name=NAME,printer=IPP-URI|virtual,reader=PCSC-READER|virtual,types=construction+cleaning" +
	"[,transport=manual|virtual][,max-attempts=N]; printer=virtual and reader=virtual run a virtual printer and a slot " +
	"of a private pcscd with vpcd (at most two virtual readers; transport virtual, chip keys may be the development keys)"

// stationSpec is one configured station as the operator wrote it.
type stationSpec struct {
	production.StationConfig
	Transport string // manual (an operator or the printer puts cards at the coupler) or virtual
}

func (s stationSpec) virtualReader() bool  { return s.Reader == "virtual" }
func (s stationSpec) virtualPrinter() bool { return s.PrinterURI == "virtual" }

// stationList is the repeatable --station flag.
type stationList []stationSpec

func (l *stationList) String() string { return fmt.Sprintf("%d stations", len(*l)) }

func (l *stationList) Set(v string) error {
	s, err := parseStation(v)
	if err != nil {
		return err
	}
	*l = append(*l, s)
	return nil
}

// flags adds --station; CARDLINE_STATIONS gives the default list.
func (l *stationList) flags(fs *flag.FlagSet) {
	fs.Var(l, "station", "a station to run (repeatable; env "+envStations+", specs separated by ';'): "+stationSpecHelp)
}

// fromEnv fills an empty list from CARDLINE_STATIONS.
func (l *stationList) fromEnv() error {
	if len(*l) > 0 {
		return nil
	}
	for _, spec := range strings.Split(os.Getenv(envStations), ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		if err := l.Set(spec); err != nil {
			return fmt.Errorf("%s: %w", envStations, err)
		}
	}
	return nil
}

func parseStation(v string) (stationSpec, error) {
	s := stationSpec{Transport: "manual"}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return s, fmt.Errorf("station %q: %q is not key=value", v, kv)
		}
		switch k {
		case "name":
			s.Name = val
		case "printer":
			s.PrinterURI = val
		case "reader":
			s.Reader = val
		case "types":
			for _, t := range strings.Split(val, "+") {
				s.CardTypes = append(s.CardTypes, production.CardType(t))
			}
		case "transport":
			s.Transport = val
		case "max-attempts":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return s, fmt.Errorf("station %q: max-attempts must be a positive number", v)
			}
			s.MaxAttempts = n
		default:
			return s, fmt.Errorf("station %q: unknown key %q", v, k)
		}
	}
	if s.virtualReader() {
		s.Transport = "virtual"
	}
	if s.Transport != "manual" && s.Transport != "virtual" {
		return s, fmt.Errorf("station %q: transport must be manual or virtual", v)
	}
	if s.Transport == "virtual" && !s.virtualReader() {
		return s, fmt.Errorf("station %q: the virtual transport needs reader=virtual", v)
	}
	return s, s.Validate()
}

func stationCommand() command {
	return command{name: "station", summary: "stations: list with state and faults, clear a fault, run workers", subs: []command{
		{name: "list", summary: "list stations with state, fault, parked card and counts", run: stationListCmd},
		{name: "clear", summary: "clear a parked station's fault: its card is resolved and it takes cards again", run: stationClear().run},
		{name: "held", summary: "list cards held for an operator after spoiling too often", run: stationHeld},
		{name: "release", summary: "release a held card: queued again with a fresh set of attempts", run: stationRelease().run},
		{name: "retire", summary: "take a station removed from service out of the lists", run: stationRetire().run},
		{name: "run", summary: "run station workers without the rest of the service", run: stationRun},
	}}
}

func stationListCmd(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline station list", "", "Lists the stations that have run, with state (idle, working, parked), "+
		"the fault and card a parked station holds, and cards produced and spoiled.")
	cfg.dbFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withStore(ctx, cfg.databaseURL, func(store *production.Store) error {
		sts, err := store.Stations(ctx)
		if err != nil {
			return err
		}
		printStations(a.stdout, sts)
		held, err := store.HeldCards(ctx)
		if err != nil {
			return err
		}
		if len(held) > 0 {
			fmt.Fprintf(a.stdout, "\n%d card(s) held for an operator: cardline station held\n", len(held))
		}
		return nil
	})
}

func stationHeld(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline station held", "", "Lists the cards the line will not remake on its own (spoiled too often, "+
		"or data that cannot go on plastic), most urgent first, with why.")
	cfg.dbFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withStore(ctx, cfg.databaseURL, func(store *production.Store) error {
		held, err := store.HeldCards(ctx)
		if err != nil {
			return err
		}
		if len(held) == 0 {
			fmt.Fprintln(a.stdout, "no card is held")
			return nil
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CARD\tORDER\tTYPE\tSPOILED\tDISPATCH BY\tSINCE\tWHY")
		for _, h := range held {
			by := "-"
			if h.DispatchBy != nil {
				by = h.DispatchBy.Local().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", h.Number, h.OrderID, h.CardType, h.Attempts, by,
				h.Since.Local().Format("2006-01-02 15:04"), h.Hold)
		}
		tw.Flush()
		fmt.Fprintln(a.stdout, "\nonce the cause is dealt with: cardline station release CARD --reason 'what was done'")
		return nil
	})
}

// operatorAction is a command by which an operator does one audited thing to one named station
// or card: it takes the database flags, --by, any flags of its own, and exactly one argument.
type operatorAction struct {
	name, arg, summary, byHelp string
	flags                      func(fs *flag.FlagSet)
	act                        func(ctx context.Context, store *production.Store, arg, by string) (done string, err error)
}

func (o operatorAction) run(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline station "+o.name, strings.ToUpper(o.arg), o.summary)
	cfg.dbFlags(fs)
	by := fs.String("by", envOr("USER", "operator"), o.byHelp)
	if o.flags != nil {
		o.flags(fs)
	}
	rest, err := parseInterspersed(fs, args) // CARD --reason …, as station held prints it
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return fmt.Errorf("station %s: name one %s, got %d arguments %q", o.name, o.arg, len(rest), rest)
	}
	return withStore(ctx, cfg.databaseURL, func(store *production.Store) error {
		done, err := o.act(ctx, store, rest[0], *by)
		if err == nil {
			fmt.Fprintln(a.stdout, done)
		}
		return err
	})
}

func stationRelease() operatorAction {
	var reason *string
	return operatorAction{name: "release", arg: "card", byHelp: "who releases it (audit log)",
		summary: "Releases a held card once its cause is dealt with: it is queued again under the same number, outside its " +
			"old batch (planning puts it in by its deadline), with a fresh set of attempts.",
		flags: func(fs *flag.FlagSet) {
			reason = fs.String("reason", "", "what was done about the cause (required; audit log)")
		},
		act: func(ctx context.Context, store *production.Store, arg, by string) (string, error) {
			n, err := production.ParseCardNumber(arg)
			if err != nil {
				return "", fmt.Errorf("station release: %w", err)
			}
			return fmt.Sprintf("card %s released: queued for the next plan", n), store.ReleaseCard(ctx, n, by, *reason)
		}}
}

func stationRetire() operatorAction {
	return operatorAction{name: "retire", arg: "station", byHelp: "who retires it (audit log)",
		summary: "Takes a station that was removed from service out of the lists; its history stays. It must be idle with " +
			"no card on it. A worker started under the same name brings it back.",
		act: func(ctx context.Context, store *production.Store, name, by string) (string, error) {
			return "station " + name + " retired", store.RetireStation(ctx, name, by)
		}}
}

func printStations(w io.Writer, sts []production.StationStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATION\tSTATE\tTYPES\tPRODUCED\tSPOILED\tPARKED CARD\tPRINTER\tREADER")
	for _, s := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.Name, s.State, strings.Join(s.CardTypes, "+"), s.Produced, s.Spoiled,
			dash(s.ParkedCard), s.PrinterURI, s.Reader)
	}
	tw.Flush()
	for _, s := range sts {
		if s.State == production.StationParked {
			fmt.Fprintf(w, "\n%s is parked since %s: %s\n  fix it, then: cardline station clear %s\n", s.Name,
				s.UpdatedAt.Local().Format("15:04:05"), s.Fault, s.Name)
		}
		if s.CouplerCard != "" {
			fmt.Fprintf(w, "%s: spoiled card %s is still at the coupler (its eject to the reject tray failed); "+
				"the station ejects it when it next starts work, or take it out by hand\n", s.Name, s.CouplerCard)
		}
	}
}

func stationClear() operatorAction {
	return operatorAction{name: "clear", arg: "station", byHelp: "who clears it (audit log)",
		summary: "Clears a parked station once its fault is fixed: its worker resolves the card it was parked with " +
			"(produced if the printer completed it, else voided and remade) and takes cards again.",
		act: func(ctx context.Context, store *production.Store, name, by string) (string, error) {
			return "station " + name + " cleared", store.ClearStation(ctx, name, by)
		}}
}

func stationRun(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline station run", "", "Runs station workers until interrupted: each takes the next card of a "+
		"started print batch and encodes, verifies and prints it. serve runs the same workers with --station.")
	cfg.serviceFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.stations.fromEnv(); err != nil {
		return err
	}
	if len(cfg.stations) == 0 {
		return fmt.Errorf("station run: no station configured (--station or %s)", envStations)
	}
	svc, err := openService(ctx, cfg, a.log)
	if err != nil {
		return err
	}
	defer svc.close()
	stop, err := startStations(ctx, svc, cfg.stations)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}

// startStations starts a worker per configured station; they work until ctx ends. stop waits for
// them and stops the virtual parts they use.
func startStations(ctx context.Context, s *service, stations stationList) (stop func(), err error) {
	key, err := s.cfg.qrSigningKey()
	if err != nil {
		return nil, err
	}
	allVirtual := true
	for _, st := range stations {
		allVirtual = allVirtual && st.virtualReader()
	}
	keys, err := loadChipKeys(allVirtual) // development keys only for an all-virtual line
	if err != nil {
		return nil, err
	}
	// One renderer for every station: it caches each card type's static pages (15 MB for three
	// types), which need not be held once a station; and one pool of the pages cards are drawn
	// on, which a station needs only while it renders.
	renderer, err := printer.NewRenderer(printer.Options{StatusBaseURL: s.cfg.statusBaseURL, SigningKey: key})
	if err != nil {
		return nil, err
	}
	pages := printer.NewPagePool(runtime.GOMAXPROCS(0))
	var vs *encoder.VirtualStation
	slot := 0
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	var workers []*production.StationWorker
	virtualPrinterOf := map[string]*printer.VirtualPrinter{}
	for _, spec := range stations {
		cfg := spec.StationConfig
		log := s.log.With("station", cfg.Name)
		if spec.virtualPrinter() {
			dir, err := virtualPartDir(s.cfg.virtualDir, cfg.Name)
			if err != nil {
				cleanup()
				return nil, err
			}
			vp, err := printer.StartVirtualPrinter(ctx, dir, printer.VirtualPrinterOptions{Name: "cardline virtual " + cfg.Name, Logger: log})
			if err != nil {
				cleanup()
				return nil, fmt.Errorf("station %s: %w", cfg.Name, err)
			}
			cleanups = append(cleanups, func() {
				vp.Stop()
				if s.cfg.virtualDir == "" {
					os.RemoveAll(dir)
				}
			})
			cfg.PrinterURI = vp.URI
			virtualPrinterOf[cfg.Name] = vp
		}
		client, err := printer.NewClient(cfg.PrinterURI, printer.ClientOptions{Logger: log})
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("station %s: %w", cfg.Name, err)
		}
		var transport production.CardTransport
		var enc *encoder.Station
		if spec.virtualReader() {
			if vs == nil {
				// Before any other PC/SC call of this process: it points the process at its pcscd.
				pcscDir := filepath.Join(os.TempDir(), fmt.Sprintf("cardline-vpcd-%d", os.Getpid()))
				if s.cfg.virtualDir != "" {
					pcscDir = filepath.Join(s.cfg.virtualDir, "pcscd")
				}
				if vs, err = encoder.StartVirtualStation(ctx, pcscDir, log); err != nil {
					cleanup()
					return nil, err
				}
				cleanups = append(cleanups, func() { vs.Close() })
				go vs.PCSCD.Supervise(ctx)
				if s.cfg.virtualDir != "" {
					go watchPCSCDKill(ctx, pcscDir, vs.PCSCD, log)
				}
			}
			if slot >= len(vs.Slots) {
				cleanup()
				return nil, fmt.Errorf("station %s: at most %d virtual readers", cfg.Name, len(vs.Slots))
			}
			cfg.Reader = vs.ReaderNames()[slot]
			if enc, err = encoder.NewStation(cfg.Reader, keys, log); err != nil {
				cleanup()
				return nil, err
			}
			vt := encoder.NewVirtualTransport(vs.Slots[slot], enc)
			transport = vt
			if s.cfg.virtualDir != "" {
				go watchChipFaults(ctx, filepath.Join(s.cfg.virtualDir, cfg.Name), vt, log)
			}
			slot++
			if s.onVirtual != nil {
				s.onVirtual(cfg.Name, vt, virtualPrinterOf[cfg.Name])
			}
		} else {
			if enc, err = encoder.NewStation(cfg.Reader, keys, log); err != nil {
				cleanup()
				return nil, err
			}
			transport = manualTransport{enc}
		}
		cleanups = append(cleanups, func() { enc.Close() })
		workers = append(workers, &production.StationWorker{Config: cfg, Store: s.store, Bus: s.bus, Encoder: enc,
			Printer: client, Transport: transport, Renderer: renderer, Pages: pages, Log: s.log, Metrics: s.metrics}) // nil-safe
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				s.log.Error("station worker stopped", "station", w.Config.Name, "err", err)
			}
		}()
	}
	return func() { wg.Wait(); cleanup() }, nil
}

// manualTransport is a coupler without a transport the line can drive: a blank is "fed" when
// a card appears at the reader (put there by an operator or the printer's own feeder), and
// "ejected" when it has been taken away.
type manualTransport struct{ enc *encoder.Station }

func (m manualTransport) FeedBlank(ctx context.Context) error {
	_, err := m.enc.WaitForCard(ctx)
	return err
}

func (m manualTransport) EjectOutput(ctx context.Context) error { return m.waitGone(ctx) }

// EjectReject waits for the card to be taken to the reject tray; with no card at the coupler it
// is an error, as CardTransport requires (recovery books a blank only for a card it finds).
func (m manualTransport) EjectReject(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, time.Second) // pcscd reports a present card at once
	_, err := m.enc.WaitForCard(pctx)
	cancel()
	if err != nil {
		return fmt.Errorf("eject to the reject tray: no card at the coupler of %s: %w", m.enc.Reader(), err)
	}
	return m.waitGone(ctx)
}

func (m manualTransport) waitGone(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	return m.enc.WaitForRemoval(ctx)
}

func stockCommand() command {
	return command{name: "stock", summary: "blank card stock per station and card type: load, count at shift close, show", subs: []command{
		{name: "show", summary: "show loaded = produced + spoiled + remaining per station and type, and the last count", run: stockShow},
		{name: "load", summary: "book blanks loaded: STATION TYPE N", run: func(ctx context.Context, a *app, args []string) error {
			return stockMove(ctx, a, "load", args)
		}},
		{name: "count", summary: "book a count of the blanks left (shift close): STATION TYPE N; a difference is reported", run: func(ctx context.Context, a *app, args []string) error {
			return stockMove(ctx, a, "count", args)
		}},
	}}
}

func stockShow(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline stock show", "", "Shows the blank stock book per station and card type, and the last count against the book.")
	cfg.dbFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, err := openPool(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	lines, err := production.NewStore(pool).Stock(ctx)
	if err != nil {
		return err
	}
	printStock(a.stdout, lines)
	return nil
}

func printStock(w io.Writer, lines []production.StockLine) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATION\tTYPE\tLOADED\tPRODUCED\tSPOILED\tREMAINING\tLAST COUNT\tDIFFERENCE")
	for _, l := range lines {
		count, diff := "-", "-"
		if l.Counted != nil {
			count = fmt.Sprintf("%d at %s", *l.Counted, l.CountedAt.Local().Format("2006-01-02 15:04"))
			diff = fmt.Sprintf("%+d", l.Difference())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", l.Station, l.CardType, l.Loaded, l.Produced, l.Spoiled, l.Remaining, count, diff)
	}
	tw.Flush()
}

func stockMove(ctx context.Context, a *app, what string, args []string) error {
	var cfg config
	summary := "Books blanks of a card type loaded into a station's hopper."
	if what == "count" {
		summary = "Books the operator's count of the blanks left at a station (at shift close) and checks it against the book: " +
			"a difference is reported and the command fails, so that it is looked into."
	}
	fs := newFlags(a, "cardline stock "+what, "STATION TYPE N", summary)
	cfg.dbFlags(fs)
	by := fs.String("by", envOr("USER", "operator"), "who books it")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 3 {
		fs.Usage()
		return fmt.Errorf("stock %s: want STATION TYPE N, got %q", what, rest)
	}
	n, err := strconv.Atoi(rest[2])
	if err != nil {
		return fmt.Errorf("stock %s: %q is not a number", what, rest[2])
	}
	pool, err := openPool(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := production.NewStore(pool)
	station, typ := rest[0], production.CardType(rest[1])
	if what == "load" {
		if err := store.LoadBlanks(ctx, station, typ, n, *by); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%d %s blanks loaded at %s\n", n, typ, station)
		return nil
	}
	line, err := store.CountBlanks(ctx, station, typ, n, *by)
	if err != nil {
		return err
	}
	printStock(a.stdout, []production.StockLine{*line})
	if d := line.Difference(); d != 0 {
		return fmt.Errorf("stock count at %s (%s): counted %d, the book says %d: %+d blanks", station, typ, n, line.BookAtCount, d)
	}
	return nil
}
