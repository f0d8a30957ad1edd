package main

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cardline/internal/testsupport"
	"cardline/printer"
)

func runCard(t *testing.T, ctx context.Context, lookup cardFaceLookup, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := dispatch(ctx, a, "cardline", []command{cardCommandWith(lookup)}, args)
	return out.String(), err
}

// An operator previews a card, prints it on a printer and reads the printer's state.
func TestCardPreviewPrintStatus(t *testing.T) {
	t.Setenv(envQRSigningKey, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	front := filepath.Join(dir, "front.png")

	if _, err := runCard(t, ctx, nil, "card", "preview", "--sample", "cleaning", "-o", front); err == nil || !strings.Contains(err.Error(), envQRSigningKey) {
		t.Fatalf("preview without a key: %v", err)
	}
	if _, err := runCard(t, ctx, nil, "card", "preview", "--dev-key", "1000000017"); err == nil || !strings.Contains(err.Error(), "--sample") {
		t.Fatalf("preview by number without a store: %v", err)
	}
	t.Setenv(envQRSigningKey, strings.Repeat("5a", 32))
	out, err := runCard(t, ctx, nil, "card", "preview", "--sample", "cleaning", "-o", front)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, p := range []string{front, filepath.Join(dir, "back.png")} {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil || img.Bounds().Dx() != printer.FaceWidth || img.Bounds().Dy() != printer.FaceHeight {
			t.Fatalf("%s: %v, %v", p, err, img.Bounds())
		}
	}

	// A stored card through the look-up the lead wires in.
	lookup := func(_ context.Context, _ *config, n string) (*printer.Face, error) {
		f := printer.SampleFace(printer.Transport)
		f.CardNumber = n
		return f, nil
	}
	if out, err := runCard(t, ctx, lookup, "card", "preview", "-o", filepath.Join(dir, "x.png"), "1000000025"); err != nil || !strings.Contains(out, "x-back.png") {
		t.Fatalf("preview via look-up: %v\n%s", err, out)
	}

	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{})
	out, err = runCard(t, ctx, lookup, "card", "print", "--printer", v.URI, "1000000033")
	if err != nil || !strings.Contains(out, "card 1000000033 printed") {
		t.Fatalf("print: %v\n%s", err, out)
	}
	if j, err := v.Job(1); err != nil || j.Attributes["IPP_JOB_NAME"] != "1000000033" {
		t.Fatalf("job on the printer: %+v, %v", j, err)
	}
	if err := v.SetFault("jam"); err != nil {
		t.Fatal(err)
	}
	if out, err := runCard(t, ctx, lookup, "card", "print", "--printer", v.URI, "1000000033"); err == nil || !strings.Contains(err.Error(), "Card jammed") {
		t.Fatalf("print on a jammed printer: %v\n%s", err, out)
	}
	out, err = runCard(t, ctx, nil, "card", "printer", "--printer", v.URI)
	if err != nil || !strings.Contains(out, "Card jam: open the printer") || !strings.Contains(out, "YMCKO ribbon (ink-ribbon) 80 %") {
		t.Fatalf("printer status: %v\n%s", err, out)
	}
}
