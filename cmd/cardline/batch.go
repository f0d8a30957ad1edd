package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"cardline/production"
)

// Configuration of planning (flags fall back to these environment variables).
const (
	envPrintBatchSize = "CARDLINE_PRINT_BATCH_SIZE" // at most this many cards a print batch
	defaultBatchSize  = 50
)

func batchCommand() command {
	return command{name: "batch", summary: "print batches: plan, list, start, pause, resume, close", subs: []command{
		{name: "list", summary: "list print batches with their cards by state, in the order stations take them", run: batchList},
		{name: "plan", summary: "group the queued cards in no batch into new print batches", run: batchPlan},
		{name: "start", summary: "let stations take a planned batch's cards", run: batchMove("start")},
		{name: "pause", summary: "stop stations taking new cards from a started batch", run: batchMove("pause")},
		{name: "resume", summary: "let stations take a paused batch's cards again", run: batchMove("resume")},
		{name: "close", summary: "close a batch (refused while cards are not produced, unless --force)", run: batchMove("close")},
	}}
}

// batchSizeFlag is the print batch size, shared by `batch plan` and serve's planning job. A bad
// value in the environment is added to errs, naming the variable, for the command to return.
func batchSizeFlag(fs *flag.FlagSet, errs *[]error) *int {
	def := defaultBatchSize
	if raw := envOr(envPrintBatchSize, ""); raw != "" {
		v, err := strconv.Atoi(raw)
		if err != nil || v < 1 {
			*errs = append(*errs, fmt.Errorf("%s=%q: want a whole number of cards, at least 1", envPrintBatchSize, raw))
		}
		def = v
	}
	return fs.Int("print-batch-size", def, "at most this many cards a print batch (env "+envPrintBatchSize+")")
}

// checkBatchSize refuses a print batch size below 1, from the flag or the environment.
func checkBatchSize(n int, envErrs []error) error {
	if err := errors.Join(envErrs...); err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("--print-batch-size %d: want at least 1 card a batch", n)
	}
	return nil
}

// batchActor names who runs a batch command in the audit log.
func batchActor(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "operator:" + u.Username
	}
	return "operator"
}

func batchList(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline batch list", "", "Lists print batches in the order stations take them (at risk first, "+
		"then earliest deadline, then oldest), with their cards counted by state.")
	cfg.dbFlags(fs)
	all := fs.Bool("all", false, "closed batches too")
	asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pool, err := openPool(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	batches, err := production.NewStore(pool).ListBatches(ctx, *all)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		for _, b := range batches {
			if err := enc.Encode(b); err != nil {
				return err
			}
		}
		return nil
	}
	printBatches(a.stdout, batches)
	return nil
}

func printBatches(w io.Writer, batches []production.PrintBatch) {
	if len(batches) == 0 {
		fmt.Fprintln(w, "no print batches (cardline batch plan makes them from the queued cards)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tTYPE\tSTATE\tRISK\tEARLIEST DUE\tCARDS\tBY STATE")
	for _, b := range batches {
		due, risk := "-", ""
		if !b.EarliestDispatchBy.IsZero() {
			due = b.EarliestDispatchBy.Format("Mon 2006-01-02")
		}
		if b.AtRisk {
			risk = "AT RISK"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", b.ID, b.CardType, b.State, dash(risk), due, b.Total(), batchCardCounts(b.Cards))
	}
	tw.Flush()
}

// batchCardCounts is "2 queued, 1 produced", in the order a card passes the states.
func batchCardCounts(m map[production.CardState]int) string {
	order := map[production.CardState]int{production.CardQueued: 0, production.CardInProduction: 1, production.CardEncoded: 2,
		production.CardPrinted: 3, production.CardProduced: 4, production.CardSpoiled: 5, production.CardDispatched: 6, production.CardBlocked: 7}
	states := make([]production.CardState, 0, len(m))
	for s := range m {
		states = append(states, s)
	}
	sort.Slice(states, func(i, j int) bool { return order[states[i]] < order[states[j]] })
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%d %s", m[s], s)
	}
	return dash(strings.Join(parts, ", "))
}

func batchPlan(ctx context.Context, a *app, args []string) error {
	var cfg config
	fs := newFlags(a, "cardline batch plan", "", "Groups the queued cards that are in no batch into new print batches: one card type "+
		"a batch, orders at risk first, then the earliest deadline, an order's cards together (only an order larger than a batch "+
		"is split). Cards already in a batch stay; the service also plans on its own schedule.")
	cfg.dbFlags(fs)
	var envErrs []error
	size := batchSizeFlag(fs, &envErrs)
	by := fs.String("by", "", "who plans, for the audit log (default operator:$USER)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkBatchSize(*size, envErrs); err != nil {
		return fmt.Errorf("batch plan: %w", err)
	}
	pool, err := openPool(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := production.Migrate(ctx, pool); err != nil {
		return err
	}
	batches, err := production.NewStore(pool).PlanPrintBatches(ctx, *size, batchActor(*by))
	if err != nil {
		return err
	}
	if len(batches) == 0 {
		fmt.Fprintln(a.stdout, "nothing to plan: every queued card is in a batch")
		return nil
	}
	made, added := 0, 0
	for _, b := range batches {
		if b.Added == b.Total() {
			made++
		}
		added += b.Added
	}
	fmt.Fprintf(a.stdout, "planned %d cards: new batches %d, planned batches topped up %d:\n", added, made, len(batches)-made)
	printBatches(a.stdout, batches)
	return nil
}

// batchMove is start, pause, resume or close of one batch.
func batchMove(verb string) func(ctx context.Context, a *app, args []string) error {
	return func(ctx context.Context, a *app, args []string) error {
		var cfg config
		summary := map[string]string{
			"start":  "Starts a planned batch: stations loaded with its card type take its queued cards.",
			"pause":  "Pauses a started batch: stations take no new card from it; cards already taken finish.",
			"resume": "Resumes a paused batch.",
			"close": "Closes a batch. A batch with cards not yet produced (queued, at a station, or spoiled and waiting to be " +
				"remade) is refused unless --force; a forced close returns its queued cards to the pool for the next plan, " +
				"and cards a station holds finish where they are.",
		}[verb]
		fs := newFlags(a, "cardline batch "+verb, "BATCH", summary)
		cfg.dbFlags(fs)
		by := fs.String("by", "", "who does it, for the audit log (default operator:$USER)")
		var force *bool
		var reason *string
		if verb == "close" {
			force = fs.Bool("force", false, "close even with cards not yet produced; its queued cards go back to the pool")
		}
		if verb == "close" || verb == "pause" {
			reason = fs.String("reason", "", "why, for the audit log")
		}
		positional, err := parseInterspersed(fs, args)
		if err != nil {
			return err
		}
		if len(positional) != 1 {
			fs.Usage()
			return errors.New("give one batch number (`cardline batch list` shows them)")
		}
		id, err := strconv.ParseInt(positional[0], 10, 64)
		if err != nil {
			return fmt.Errorf("batch %q: not a batch number", positional[0])
		}
		pool, err := openPool(ctx, cfg.databaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		store := production.NewStore(pool)
		who := batchActor(*by)
		switch verb {
		case "start":
			err = store.StartBatch(ctx, id, who)
		case "pause":
			err = store.PauseBatch(ctx, id, who, *reason)
		case "resume":
			err = store.ResumeBatch(ctx, id, who)
		case "close":
			var res *production.CloseResult
			if res, err = store.CloseBatch(ctx, id, who, *force, *reason); err == nil && len(res.Returned) > 0 {
				fmt.Fprintf(a.stdout, "%d queued cards returned to the pool (the next plan batches them): %s\n",
					len(res.Returned), batchCardList(res.Returned))
			}
		}
		if err != nil {
			return err
		}
		b, err := store.Batch(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "batch %d (%s): %s; cards: %s\n", b.ID, b.CardType, b.State, batchCardCounts(b.Cards))
		return nil
	}
}

func batchCardList(ns []production.CardNumber) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// parseInterspersed parses flags that may come before or after the arguments (`batch close 7
// --force` as well as `batch close --force 7`) and returns the arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
