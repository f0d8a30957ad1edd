package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cardline/printer"
)

// Configuration of card rendering and printing (flags fall back to these environment variables).
const (
	envStatusBaseURL = "CARDLINE_STATUS_BASE_URL" // base of the signed status URL in the QR code
	envQRSigningKey  = "CARDLINE_QR_SIGNING_KEY"  // Ed25519 seed, 64 hex digits; never printed or logged
	envPrinterURI    = "CARDLINE_PRINTER_URI"     // ipp://host/ipp/print or ipp://host:631/printers/NAME
)

const defaultStatusBaseURL = "https://hms-status.example/k"

// cardFaceLookup finds a stored card by its number and returns what goes on its faces. The card
// store (production) implements it; until it is wired in with cardCommandWith, only --sample works.
type cardFaceLookup func(ctx context.Context, cfg *config, cardNumber string) (*printer.Face, error)

func cardCommand() command { return cardCommandWith(nil) }

// cardCommandWith is the card group with the store's card look-up.
func cardCommandWith(lookup cardFaceLookup) command {
	return command{name: "card", summary: "preview a card's faces, print a card, show a printer's state", subs: []command{
		{name: "preview", summary: "render a card's front and back as 300 dpi PNG files", run: func(ctx context.Context, a *app, args []string) error {
			return cardPreview(ctx, a, args, lookup)
		}},
		{name: "print", summary: "print a card on an IPP printer and wait for the job", run: func(ctx context.Context, a *app, args []string) error {
			return cardPrint(ctx, a, args, lookup)
		}},
		{name: "printer", summary: "show an IPP printer's state, faults, media and ribbon", run: cardPrinterStatus},
	}}
}

// cardFlags are the flags shared by preview and print: which card, and how to sign its QR code.
type cardFlags struct {
	cfg     config
	sample  string
	baseURL string
	devKey  bool
}

func (c *cardFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&c.sample, "sample", "", "render the built-in sample card of this type (construction, cleaning, transport) instead of a stored card")
	fs.StringVar(&c.baseURL, "status-base-url", envOr(envStatusBaseURL, defaultStatusBaseURL), "base URL of the card status service in the QR code (env "+envStatusBaseURL+")")
	fs.BoolVar(&c.devKey, "dev-key", false, "sign the QR code with the public DEVELOPMENT key when "+envQRSigningKey+" (the Ed25519 seed, 64 hex digits) is unset")
}

func (c *cardFlags) signingKey() (ed25519.PrivateKey, error) {
	if v := os.Getenv(envQRSigningKey); v != "" {
		return printer.ParseSigningKey(v)
	}
	if c.devKey {
		return printer.DevSigningKey(), nil
	}
	return nil, fmt.Errorf("QR signing key: set %s to an Ed25519 seed (64 hex digits, e.g. from `openssl rand -hex 32`), or pass --dev-key", envQRSigningKey)
}

// face finds the card to render: the sample, or the stored card with the number in args.
func (c *cardFlags) face(ctx context.Context, args []string, lookup cardFaceLookup) (*printer.Face, error) {
	if c.sample != "" {
		if len(args) > 0 {
			return nil, errors.New("give either --sample or a card number, not both")
		}
		f := printer.SampleFace(printer.CardType(c.sample))
		return f, f.Validate()
	}
	if len(args) != 1 {
		return nil, errors.New("give one card number (or --sample TYPE)")
	}
	if lookup == nil {
		return nil, fmt.Errorf("card %s: looking up stored cards is not wired into this build yet; use --sample", args[0])
	}
	f, err := lookup(ctx, &c.cfg, args[0])
	if err != nil {
		return nil, fmt.Errorf("look up card %s: %w", args[0], err)
	}
	return f, nil
}

func (c *cardFlags) render(ctx context.Context, args []string, lookup cardFaceLookup) (*printer.Face, *printer.CardJob, error) {
	f, err := c.face(ctx, args, lookup)
	if err != nil {
		return nil, nil, err
	}
	key, err := c.signingKey()
	if err != nil {
		return nil, nil, err
	}
	r, err := printer.NewRenderer(printer.Options{StatusBaseURL: c.baseURL, SigningKey: key})
	if err != nil {
		return nil, nil, err
	}
	front, back, err := r.Render(f)
	if err != nil {
		return nil, nil, err
	}
	return f, &printer.CardJob{CardNumber: f.CardNumber, Front: front, Back: back}, nil
}

func cardPreview(ctx context.Context, a *app, args []string, lookup cardFaceLookup) error {
	var c cardFlags
	fs := newFlags(a, "cardline card preview", "CARDNUMBER | --sample TYPE",
		"Renders the front and back of a card as 300 dpi PNG files (1011 × 638 px, landscape, sRGB), as they go to the printer.")
	c.cfg.dbFlags(fs)
	c.register(fs)
	out := fs.String("o", "", "front PNG file [CARDNUMBER-front.png]")
	backOut := fs.String("back", "", "back PNG file [the -o name with front replaced by back]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, job, err := c.render(ctx, fs.Args(), lookup)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = f.CardNumber + "-front.png"
	}
	if *backOut == "" {
		dir, base := filepath.Split(*out)
		if strings.Contains(base, "front") {
			*backOut = filepath.Join(dir, strings.Replace(base, "front", "back", 1))
		} else {
			*backOut = filepath.Join(dir, strings.TrimSuffix(base, filepath.Ext(base))+"-back.png")
		}
	}
	for _, side := range []struct {
		path string
		img  *image.RGBA
	}{{*out, job.Front}, {*backOut, job.Back}} {
		fh, err := os.Create(side.path)
		if err != nil {
			return err
		}
		if err := printer.EncodePNG(fh, side.img); err != nil {
			fh.Close()
			return err
		}
		if err := fh.Close(); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "wrote %s\n", side.path)
	}
	return nil
}

func cardPrint(ctx context.Context, a *app, args []string, lookup cardFaceLookup) error {
	var c cardFlags
	fs := newFlags(a, "cardline card print", "CARDNUMBER | --sample TYPE",
		"Prints a card, front and back as one IPP job named by its card number, and waits until the printer has finished it. "+
			"Printer faults are reported as they appear.")
	c.cfg.dbFlags(fs)
	c.register(fs)
	uri := fs.String("printer", envOr(envPrinterURI, ""), "printer URI: ipp://host/ipp/print or a CUPS queue ipp://host:631/printers/NAME (env "+envPrinterURI+")")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up on the job after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *uri == "" {
		return fmt.Errorf("no printer: pass --printer or set %s", envPrinterURI)
	}
	_, job, err := c.render(ctx, fs.Args(), lookup)
	if err != nil {
		return err
	}
	cl, err := printer.NewClient(*uri, printer.ClientOptions{Logger: a.log})
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := cl.PrintCard(ctx, *job, func(f printer.Fault) { fmt.Fprintf(a.stderr, "printer: %s\n", f) })
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "card %s printed: job %d %s on %s, %s\n", job.CardNumber, res.JobID, res.State, res.Media, res.Sides)
	return nil
}

func cardPrinterStatus(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "cardline card printer", "", "Shows an IPP printer's state, its faults in plain words, the media it has and its ribbon level.")
	uri := fs.String("printer", envOr(envPrinterURI, ""), "printer URI (env "+envPrinterURI+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *uri == "" {
		return fmt.Errorf("no printer: pass --printer or set %s", envPrinterURI)
	}
	cl, err := printer.NewClient(*uri, printer.ClientOptions{Logger: a.log})
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "printer:  %s\nstate:    %s (%s)\n", *uri, st.State, st.Message)
	fmt.Fprintf(a.stdout, "media:    ready %s; supported %s\nsides:    %s\nformats:  %s\n",
		strings.Join(st.MediaReady, ", "), strings.Join(st.MediaSupported, ", "), strings.Join(st.Sides, ", "), strings.Join(st.DocumentFormats, ", "))
	for _, m := range st.Markers {
		fmt.Fprintf(a.stdout, "supply:   %s (%s) %d %%\n", m.Name, m.Type, m.Level)
	}
	if len(st.Faults) == 0 {
		fmt.Fprintln(a.stdout, "faults:   none")
	}
	for _, f := range st.Faults {
		fmt.Fprintf(a.stdout, "fault:    %s\n", f)
	}
	return nil
}
