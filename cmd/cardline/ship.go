package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"cardline/printer"
	"cardline/production"
	"cardline/shipping"
)

// Configuration of shipping (flags fall back to these environment variables).
const (
	envReturnAddress = "CARDLINE_RETURN_ADDRESS" // "Name; Street; 0102 CITY", printed on every label
	envPickup        = "CARDLINE_POST_PICKUP"    // local time of the post's daily pickup, e.g. 15:00
	envCutOff        = "CARDLINE_POST_CUTOFF"    // what is ready before it goes with that day's pickup
	envLabelPrinter  = "CARDLINE_LABEL_PRINTER_URI"
)

const defaultReturnAddress = "Cardline Produksjon AS; Postboks 123 Sentrum; 0102 OSLO"

func shipCommand() command {
	return command{name: "ship", summary: "shipping: plan the next pickup, labels, letters, manifest, packing scans, dispatch", subs: []command{
		{name: "plan", summary: "plan the next post pickup: envelopes per card, parcels, held orders and why", run: shipPlan},
		{name: "list", summary: "list shipping batches with how much is packed", run: shipList},
		{name: "labels", summary: "write or print a batch's labels (PDF 4×6 in, A4 sheet, or ZPL)", run: shipLabels},
		{name: "letters", summary: "write a batch's carrier letters (one A5 page per envelope)", run: shipLetters},
		{name: "manifest", summary: "write a batch's manifest for the post (PDF and CSV)", run: shipManifest},
		{name: "scan", summary: "pack: check an envelope's barcode against its card's QR code", run: shipScan},
		{name: "dispatch", summary: "record a batch handed to the post; tell upstream", run: shipDispatch},
	}}
}

// labelAddressRule is shipping's label rule for delivery addresses, for intake: production cannot
// import shipping, so the rule comes in through production.Validator.AddressRule. An order whose
// address could not be printed whole on a label is rejected at the door, with the field and rule.
func labelAddressRule(a production.Address) production.Problems {
	err := shipping.Address{Name: a.Name, Attention: a.Attention, Street: a.Street, PostalCode: a.PostalCode,
		City: a.City, Country: a.Country}.Validate()
	var ps production.Problems
	for _, fe := range shipping.FieldErrors(err) {
		ps = append(ps, production.Problem{Field: fe.Field, Rule: "label-" + fe.Rule, Message: fe.Message})
	}
	return ps
}

// shipConfig is what every ship subcommand needs: the database, the pickup schedule and the
// return address.
type shipConfig struct {
	cfg     config
	pickup  string
	cutOff  string
	sender  string
	pickupD time.Duration
	cutOffD time.Duration
}

func (c *shipConfig) flags(fs *flag.FlagSet) {
	c.cfg.dbFlags(fs)
	fs.StringVar(&c.pickup, "pickup", envOr(envPickup, "15:00"), "local time (Oslo) the post collects on business days (env "+envPickup+")")
	fs.StringVar(&c.cutOff, "cut-off", envOr(envCutOff, "14:00"), "what is ready before this local time goes with that day's pickup (env "+envCutOff+")")
	fs.StringVar(&c.sender, "return-address", envOr(envReturnAddress, defaultReturnAddress),
		`return address on labels and letters: "Name; Street; 0102 CITY" (env `+envReturnAddress+")")
}

// open connects (and migrates) and makes the shipping store on the line's calendar.
func (c *shipConfig) open(ctx context.Context, a *app) (*service, *shipping.Store, error) {
	var err error
	if c.pickupD, err = clockTime(c.pickup); err != nil {
		return nil, nil, fmt.Errorf("--pickup: %w", err)
	}
	if c.cutOffD, err = clockTime(c.cutOff); err != nil {
		return nil, nil, fmt.Errorf("--cut-off: %w", err)
	}
	cal, err := production.NewBusinessDays()
	if err != nil {
		return nil, nil, err
	}
	svc, err := openService(ctx, c.cfg, a.log)
	if err != nil {
		return nil, nil, err
	}
	return svc, shipping.NewStore(svc.pool, svc.bus, cal), nil
}

func (c *shipConfig) labeler() (*shipping.Labeler, error) {
	sender, err := parseReturnAddress(c.sender)
	if err != nil {
		return nil, err
	}
	return shipping.NewLabeler(shipping.LabelConfig{Sender: sender})
}

// clockTime parses HH:MM as a duration after midnight.
func clockTime(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// parseReturnAddress reads "Name; Street; 0102 CITY".
func parseReturnAddress(s string) (shipping.Address, error) {
	parts := strings.Split(s, ";")
	if len(parts) != 3 {
		return shipping.Address{}, fmt.Errorf("return address %q: want \"Name; Street; 0102 CITY\"", s)
	}
	code, city, _ := strings.Cut(strings.TrimSpace(parts[2]), " ")
	a := shipping.Address{Name: strings.TrimSpace(parts[0]), Street: strings.TrimSpace(parts[1]), PostalCode: code,
		City: strings.TrimSpace(city), Country: "NO"}
	if err := a.Validate(); err != nil {
		return a, fmt.Errorf("return address %q: %w", s, err)
	}
	return a, nil
}

// actor names who does a packing or dispatch step in the audit log.
func actor(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "logistics:" + u.Username
	}
	return "logistics"
}

// batchArg is the one BATCH argument of a subcommand.
func batchArg(fs *flag.FlagSet) (shipping.BatchID, error) {
	if fs.NArg() != 1 {
		fs.Usage()
		return "", errors.New("give one batch id, e.g. B20261123-1500 (`cardline ship list` shows them)")
	}
	return shipping.BatchID(fs.Arg(0)), nil
}

func shipPlan(ctx context.Context, a *app, args []string) error {
	var c shipConfig
	fs := newFlags(a, "cardline ship plan", "", "Plans the next post pickup from the produced cards and records it: one envelope per card "+
		"to the order's delivery address, the accessories of each order in a parcel of their own, sorted by postal code. "+
		"An order with cards still being remade waits for them while a later pickup still meets its deadline. "+
		"Orders held back are listed with the reason. Running it again changes only what has changed; run it for real "+
		"after the cut-off's last cards are in.")
	c.flags(fs)
	at := fs.String("now", "", "plan as if it were this time (RFC 3339); default now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errors.New("ship plan takes no arguments")
	}
	now := time.Now()
	if *at != "" {
		var err error
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--now: %w", err)
		}
	}
	svc, store, err := c.open(ctx, a)
	if err != nil {
		return err
	}
	defer svc.close()
	res, err := store.PlanPickup(ctx, now, store.Schedule(c.pickupD, c.cutOffD))
	if err != nil {
		return err
	}
	b := res.Batch
	fmt.Fprintf(a.stdout, "batch %s: pickup %s (cut-off %s)\n", b.ID, b.Pickup.Format("Mon 02.01.2006 15:04"), b.CutOff.Format("15:04"))
	fmt.Fprintf(a.stdout, "  %d envelope(s), %d new; %d parcel(s), %d new\n", len(b.Envelopes), res.NewEnvelopes, len(b.Parcels), res.NewParcels)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	if len(b.Envelopes)+len(b.Parcels) > 0 {
		fmt.Fprintln(tw, "  ID\tCONTENT\tORDER\tTO\t")
	}
	for _, e := range b.Envelopes {
		fmt.Fprintf(tw, "  %s\tcard %s (%d of %d)\t%s\t%s %s\t%s\n", e.ID, e.CardNumber, e.Index, e.Of, e.OrderID, e.To.PostalCode, e.To.City, lateMark(e.Late))
	}
	for _, p := range b.Parcels {
		items := make([]string, len(p.Items))
		for i, it := range p.Items {
			items[i] = fmt.Sprintf("%d×%s", it.Quantity, it.SKU)
		}
		fmt.Fprintf(tw, "  %s\tparcel %s\t%s\t%s %s\t%s\n", p.ID, strings.Join(items, ", "), p.OrderID, p.To.PostalCode, p.To.City, lateMark(p.Late))
	}
	tw.Flush()
	for _, other := range slices.Sorted(maps.Keys(res.Elsewhere)) {
		fmt.Fprintf(a.stdout, "  %d more already in open batch %s (not yet dispatched)\n", res.Elsewhere[other], other)
	}
	if len(res.TakenOut) > 0 {
		fmt.Fprintf(a.stdout, "TAKE OUT of this batch (their order is held back now; keep them for a later pickup): %s\n", strings.Join(res.TakenOut, ", "))
	}
	if len(res.Voided) > 0 {
		fmt.Fprintf(a.stdout, "voided (card no longer produced; throw these labels away): %s\n", strings.Join(ids(res.Voided), ", "))
	}
	if len(res.Held) > 0 {
		fmt.Fprintf(a.stdout, "held back (%d):\n", len(res.Held))
		for _, h := range res.Held {
			fmt.Fprintf(a.stdout, "  %s: %s", h.OrderID, h.Reason)
			if len(h.Ready) > 0 {
				fmt.Fprintf(a.stdout, " [ready: %s]", strings.Join(h.Ready, ", "))
			}
			fmt.Fprintln(a.stdout)
		}
	}
	return nil
}

func lateMark(late bool) string {
	if late {
		return "LATE"
	}
	return ""
}

func ids[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

func shipList(ctx context.Context, a *app, args []string) error {
	var c shipConfig
	fs := newFlags(a, "cardline ship list", "[BATCH]", "Lists shipping batches, latest pickup first, with envelopes packed and parcels; "+
		"with a BATCH, its envelopes and parcels in packing order with their state and how often their label was printed.")
	c.flags(fs)
	limit := fs.Int("limit", 20, "at most this many batches")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return errors.New("give at most one batch id")
	}
	svc, store, err := c.open(ctx, a)
	if err != nil {
		return err
	}
	defer svc.close()
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	if fs.NArg() == 1 {
		b, err := store.LoadBatch(ctx, shipping.BatchID(fs.Arg(0)))
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "batch %s: pickup %s, %s; %d/%d envelopes packed, %d parcels\n", b.ID, b.Pickup.Format("Mon 02.01.2006 15:04"),
			b.State, b.Packed(), len(b.Envelopes), len(b.Parcels))
		fmt.Fprintln(tw, "ID\tCARD\tORDER\tTO\tSTATE\tLABEL PRINTS")
		for _, e := range b.Envelopes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%d\n", e.ID, e.CardNumber, e.OrderID, e.To.PostalCode, e.To.City, b.EnvelopeStates[e.ID], b.LabelsPrinted[string(e.ID)])
		}
		parcelState := shipping.EnvelopePlanned // parcels need no scan; they leave with their batch
		if b.State == shipping.BatchDispatched {
			parcelState = shipping.EnvelopeDispatched
		}
		for _, p := range b.Parcels {
			fmt.Fprintf(tw, "%s\t(parcel)\t%s\t%s %s\t%s\t%d\n", p.ID, p.OrderID, p.To.PostalCode, p.To.City, parcelState, b.LabelsPrinted[string(p.ID)])
		}
		return tw.Flush()
	}
	batches, err := store.ListBatches(ctx, *limit)
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "BATCH\tPICKUP\tSTATE\tPACKED\tPARCELS")
	for _, b := range batches {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\n", b.ID, b.Pickup.Format("Mon 02.01.2006 15:04"), b.State, b.Packed, b.Envelopes, b.Parcels)
	}
	return tw.Flush()
}

// openBatch loads a batch that is still open (labels and letters are for packing, not history).
func openBatch(ctx context.Context, store *shipping.Store, id shipping.BatchID) (*shipping.StoredBatch, error) {
	b, err := store.LoadBatch(ctx, id)
	if err != nil {
		return nil, err
	}
	if b.State != shipping.BatchOpen {
		return nil, fmt.Errorf("batch %s was dispatched at %s", id, b.DispatchedAt.Format(time.RFC3339))
	}
	if len(b.Envelopes)+len(b.Parcels) == 0 {
		return nil, fmt.Errorf("batch %s is empty", id)
	}
	return b, nil
}

func shipLabels(ctx context.Context, a *app, args []string) error {
	var c shipConfig
	fs := newFlags(a, "cardline ship labels", "BATCH", "Writes the batch's labels in packing order, envelopes then parcels: a PDF of 4×6 in pages "+
		"(default), four to an A4 sheet (--sheet), or ZPL (--zpl); or prints them on a label printer (--printer). Every print is "+
		"recorded, and a reprint names the labels printed before.")
	c.flags(fs)
	out := fs.String("o", "", "output file [BATCH-labels.pdf, or .zpl]")
	zpl := fs.Bool("zpl", false, "ZPL for Zebra label printers instead of PDF")
	sheet := fs.Bool("sheet", false, "PDF with four labels to an A4 page, for office printers")
	zplFont := fs.String("zpl-font", "", "printer-resident ZPL font such as E:TT0003M_.TTF, for letters beyond Latin-1")
	uri := fs.String("printer", envOr(envLabelPrinter, ""), "print on this IPP label printer instead of writing a file (env "+envLabelPrinter+")")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up on the print job after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := batchArg(fs)
	if err != nil {
		return err
	}
	if *zpl && *sheet {
		return errors.New("--sheet is a PDF layout; it does not go with --zpl")
	}
	sender, err := parseReturnAddress(c.sender)
	if err != nil {
		return err
	}
	l, err := shipping.NewLabeler(shipping.LabelConfig{Sender: sender, ZPLFont: *zplFont})
	if err != nil {
		return err
	}
	svc, store, err := c.open(ctx, a)
	if err != nil {
		return err
	}
	defer svc.close()
	b, err := openBatch(ctx, store, id)
	if err != nil {
		return err
	}
	labels := b.Labels()
	if *uri != "" {
		cl, err := printer.NewClient(*uri, printer.ClientOptions{Logger: a.log})
		if err != nil {
			return err
		}
		defer cl.Close()
		pctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		res, err := l.PrintLabels(pctx, cl, string(id), labels, *zpl, func(f printer.Fault) { fmt.Fprintf(a.stderr, "label printer: %s\n", f) })
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "printed %d labels of %s: job %d %s\n", len(labels), id, res.JobID, res.State)
	} else {
		if *out == "" {
			*out = string(id) + "-labels.pdf"
			if *zpl {
				*out = string(id) + "-labels.zpl"
			}
		}
		err := writeFile(*out, func(w io.Writer) error {
			switch {
			case *zpl:
				return l.WriteZPL(w, labels)
			case *sheet:
				return l.WritePDFSheet(w, labels)
			}
			return l.WritePDF(w, labels)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "wrote %d labels of %s to %s\n", len(labels), id, *out)
	}
	reprinted, err := store.RecordLabelsPrinted(ctx, id, labels)
	if err != nil {
		return err
	}
	if len(reprinted) > 0 {
		fmt.Fprintf(a.stdout, "REPRINT: %d label(s) were printed before: %s\n", len(reprinted), strings.Join(reprinted, ", "))
	}
	return nil
}

// writeFile writes a file through render, and removes it if render fails: no half file is left
// to be printed by mistake.
func writeFile(path string, render func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := render(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func shipLetters(ctx context.Context, a *app, args []string) error {
	var c shipConfig
	fs := newFlags(a, "cardline ship letters", "BATCH", "Writes the batch's carrier letters, one A5 page per envelope in packing order: "+
		"holder, employer, card and envelope numbers, and (in Norwegian and English) what to do if the card is wrong.")
	c.flags(fs)
	out := fs.String("o", "", "output file [BATCH-letters.pdf]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := batchArg(fs)
	if err != nil {
		return err
	}
	l, err := c.labeler()
	if err != nil {
		return err
	}
	svc, store, err := c.open(ctx, a)
	if err != nil {
		return err
	}
	defer svc.close()
	if _, err := openBatch(ctx, store, id); err != nil {
		return err
	}
	letters, err := store.Letters(ctx, id)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = string(id) + "-letters.pdf"
	}
	if err := writeFile(*out, func(w io.Writer) error { return l.WriteLetters(w, letters) }); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "wrote %d carrier letters of %s to %s\n", len(letters), id, *out)
	return nil
}

func shipManifest(ctx context.Context, a *app, args []string) error {
	var c shipConfig
	fs := newFlags(a, "cardline ship manifest", "BATCH", "Writes the batch's manifest for the post: letters and parcels per postal code "+
		"with their ids, totals, and a line for the post's signature (PDF), and the same as CSV.")
	c.flags(fs)
	out := fs.String("o", "", "PDF file [BATCH-manifest.pdf]")
	csvOut := fs.String("csv", "", "CSV file [BATCH-manifest.csv]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := batchArg(fs)
	if err != nil {
		return err
	}
	sender, err := parseReturnAddress(c.sender)
	if err != nil {
		return err
	}
	svc, store, err := c.open(ctx, a)
	if err != nil {
		return err
	}
	defer svc.close()
	b, err := store.LoadBatch(ctx, id)
	if err != nil {
		return err
	}
	m := shipping.NewManifest(b.Batch, sender)
	if *out == "" {
		*out = string(id) + "-manifest.pdf"
	}
	if *csvOut == "" {
		*csvOut = string(id) + "-manifest.csv"
	}
	if err := writeFile(*out, m.WritePDF); err != nil {
		return err
	}
	if err := writeFile(*csvOut, m.WriteCSV); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "manifest of %s: %d letters, %d parcels; wrote %s and %s\n", id, m.Letters, m.Parcels, *out, *csvOut)
	return nil
}

// qrCards identifies the card in a packing scan: its QR code through the printer's signed status
// URL. Chip UIDs cannot be checked yet: the stations' records of which chip went on which card
// (issue 7) do not exist, and without them a UID proves nothing.
type qrCards struct{ pub ed25519.PublicKey }

func (q qrCards) CardFromQR(_ context.Context, payload string) (string, error) {
	n, _, err := printer.VerifyStatusURL(q.pub, payload)
	return n, err
}

func (q qrCards) CardFromChipUID(context.Context, string) (string, error) {
	return "", errors.New("chip UIDs cannot be checked yet (the stations' chip records are not in this build): scan the card's QR code")
}

func shipScan(ctx context.Context, a *app, args []string) error {
	var c shipConfig
	fs := newFlags(a, "cardline ship scan", "ENVELOPE CARDQR", "Packs one envelope: ENVELOPE is its label's barcode, CARDQR the QR code "+
		"on the card going in. They must name the same card; a wrong card is refused, loudly, and nothing is recorded.")
	c.flags(fs)
	c.cfg.qrKey = envOr(envQRSigningKey, "")
	fs.Var(hiddenString{p: &c.cfg.qrKey}, "qr-signing-key",
		"the Ed25519 `seed` (64 hex digits) the cards' QR codes were signed with; its public half checks them (env "+envQRSigningKey+")")
	by := fs.String("by", "", "who packs (for the record) [logistics:$USER]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("give the envelope's barcode and the card's QR code")
	}
	key, err := c.cfg.qrSigningKey()
	if err != nil {
		return err
	}
	svc, store, err := c.open(ctx, a)
	if err != nil {
		return err
	}
	defer svc.close()
	card, already, err := store.Pack(ctx, fs.Arg(0), fs.Arg(1), qrCards{pub: key.Public().(ed25519.PublicKey)}, actor(*by))
	var mismatch *shipping.MismatchError
	if errors.As(err, &mismatch) {
		fmt.Fprintf(a.stderr, "\n✗✗✗ %s ✗✗✗\n\n", mismatch)
		return err
	}
	if err != nil {
		return err
	}
	if already {
		fmt.Fprintf(a.stdout, "✓ envelope %s was packed already with card %s\n", fs.Arg(0), card)
		return nil
	}
	fmt.Fprintf(a.stdout, "✓ envelope %s packed with card %s\n", fs.Arg(0), card)
	return nil
}

func shipDispatch(ctx context.Context, a *app, args []string) error {
	var c shipConfig
	fs := newFlags(a, "cardline ship dispatch", "BATCH", "Records the batch as handed to the post now: every packed envelope and parcel "+
		"dispatched, their cards dispatched, orders whose cards have all left dispatched, and OrderDispatched upstream with "+
		"the envelope ids and whether the deadline was met. An unpacked envelope stops it (or stays behind with --drop-unpacked). "+
		"Running it again changes nothing.")
	c.flags(fs)
	by := fs.String("by", "", "who hands the batch over (for the record) [logistics:$USER]")
	drop := fs.Bool("drop-unpacked", false, "leave envelopes that were never packed for the next pickup instead of refusing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := batchArg(fs)
	if err != nil {
		return err
	}
	svc, store, err := c.open(ctx, a)
	if err != nil {
		return err
	}
	defer svc.close()
	res, err := store.Dispatch(ctx, id, time.Now(), actor(*by), *drop)
	if err != nil {
		return err
	}
	if res.Already {
		fmt.Fprintf(a.stdout, "batch %s was dispatched already at %s by %s; nothing changed\n", id, res.DispatchedAt.Format(time.RFC3339), res.DispatchedBy)
		return nil
	}
	fmt.Fprintf(a.stdout, "batch %s dispatched at %s by %s\n", id, res.DispatchedAt.Format(time.RFC3339), res.DispatchedBy)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ORDER\tENVELOPES\tPARCELS\tDEADLINE\t\t")
	for _, o := range res.Orders {
		met, part := "met", "complete"
		if !o.MetDeadline {
			met = "MISSED"
		}
		if !o.Complete {
			part = "part (more to follow)"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\n", o.OrderID, len(o.Envelopes), len(o.ParcelIDs), o.DispatchBy, met, part)
	}
	tw.Flush()
	if len(res.Dropped) > 0 {
		fmt.Fprintf(a.stdout, "left for the next pickup (never packed): %s\n", strings.Join(ids(res.Dropped), ", "))
	}
	return nil
}

// demoShip is the demo's shipping stage, into dir. The stations (issue 7) are not in this build,
// so it first moves every accepted order's cards to produced through production's transitions, as
// the station worker will. Then it does what logistics does: plans the next pickup, writes the
// labels (PDF and ZPL), carrier letters and manifest, packs every envelope by its card's QR code
// (after one wrong card, refused) and dispatches the batch.
func demoShip(ctx context.Context, svc *service, dir, statusBase string, qrKey ed25519.PrivateKey, step func(string, ...any)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cal, err := production.NewBusinessDays()
	if err != nil {
		return err
	}
	store := shipping.NewStore(svc.pool, svc.bus, cal)
	res, err := store.PlanPickup(ctx, time.Now(), store.Schedule(15*time.Hour, 14*time.Hour))
	if err != nil {
		return err
	}
	b := res.Batch
	if len(b.Envelopes) == 0 {
		step("shipping: nothing to ship")
		return nil
	}
	step("shipping batch %s for the pickup %s: %d envelopes, %d parcels, %d orders held", b.ID, b.Pickup.Format("Mon 02.01 15:04"),
		len(b.Envelopes), len(b.Parcels), len(res.Held))
	sender, err := parseReturnAddress(defaultReturnAddress)
	if err != nil {
		return err
	}
	l, err := shipping.NewLabeler(shipping.LabelConfig{Sender: sender})
	if err != nil {
		return err
	}
	letters, err := store.Letters(ctx, b.ID)
	if err != nil {
		return err
	}
	m := shipping.NewManifest(b, sender)
	for name, render := range map[string]func(io.Writer) error{
		"labels.pdf":    func(w io.Writer) error { return l.WritePDF(w, b.Labels()) },
		"labels-a4.pdf": func(w io.Writer) error { return l.WritePDFSheet(w, b.Labels()) },
		"labels.zpl":    func(w io.Writer) error { return l.WriteZPL(w, b.Labels()) },
		"letters.pdf":   func(w io.Writer) error { return l.WriteLetters(w, letters) },
		"manifest.pdf":  m.WritePDF,
		"manifest.csv":  m.WriteCSV,
	} {
		if err := writeFile(filepath.Join(dir, name), render); err != nil {
			return err
		}
	}
	labels := b.Labels()
	if err := demoPrintLabels(ctx, l, b.ID, labels, dir, step); err != nil {
		return err
	}
	if _, err := store.RecordLabelsPrinted(ctx, b.ID, labels); err != nil {
		return err
	}
	cards := qrCards{pub: qrKey.Public().(ed25519.PublicKey)}
	qr := func(card string) (string, error) {
		return printer.StatusURL(statusBase, qrKey, card, production.ExpiryFor(time.Now(), cal.Zone()))
	}
	for i, e := range b.Envelopes {
		if i == 0 && len(b.Envelopes) > 1 {
			wrong, err := qr(b.Envelopes[1].CardNumber)
			if err != nil {
				return err
			}
			if _, _, err := store.Pack(ctx, string(e.ID), wrong, cards, "demo-packer"); !errors.Is(err, shipping.ErrMismatch) {
				return fmt.Errorf("demo: a wrong card was not refused: %v", err)
			}
			step("packing: a wrong card in envelope %s was refused", e.ID)
		}
		right, err := qr(e.CardNumber)
		if err != nil {
			return err
		}
		if _, _, err := store.Pack(ctx, string(e.ID), right, cards, "demo-packer"); err != nil {
			return err
		}
	}
	d, err := store.Dispatch(ctx, b.ID, time.Now(), "demo-logistics", false)
	if err != nil {
		return err
	}
	met := 0
	for _, o := range d.Orders {
		if o.MetDeadline {
			met++
		}
	}
	step("batch %s packed and dispatched: %d orders, %d met their deadline; OrderDispatched published; labels, letters and manifest in %s",
		b.ID, len(d.Orders), met, dir)
	return nil
}

// demoPrintLabels prints the batch's labels on a virtual 4×6 in label printer (ippeveprinter) over
// IPP, as logistics would on a label queue, and keeps the document the printer received.
func demoPrintLabels(ctx context.Context, l *shipping.Labeler, id shipping.BatchID, labels []shipping.Label, dir string, step func(string, ...any)) error {
	pdir, err := os.MkdirTemp("", "cardline-label-printer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(pdir)
	vp, err := printer.StartVirtualPrinter(ctx, pdir, printer.VirtualPrinterOptions{Name: "cardline demo label printer",
		MediaName: printer.Label4x6MediaName, Media: printer.Label4x6, Simplex: true, Formats: []string{shipping.FormatPDF, shipping.FormatZPL}})
	if err != nil {
		return fmt.Errorf("demo label printer: %w", err)
	}
	defer vp.Stop()
	c, err := printer.NewClient(vp.URI, printer.ClientOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := l.PrintLabels(ctx, c, string(id), labels, false, nil); err != nil {
		return fmt.Errorf("demo: print labels: %w", err)
	}
	job, err := vp.Job(1)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "label-printer-job.pdf"), job.Document, 0o644); err != nil {
		return err
	}
	step("%d labels printed on the label printer %s (media %s)", len(labels), vp.URI, job.Attributes["IPP_MEDIA"])
	return nil
}
