package shipping

import (
	"bytes"
	"context"
	"testing"
	"time"

	"cardline/internal/testsupport"
	"cardline/printer"
)

// TestPrintLabelsArrivesByteForByte prints a batch's labels to ippeveprinter as a 4 × 6 in label
// printer, as PDF and as ZPL, and checks what the printer's print command got: the exact
// document, the batch id as job name, the 4 × 6 in media and the format.
func TestPrintLabelsArrivesByteForByte(t *testing.T) {
	v := testsupport.VirtualPrinter(t, printer.VirtualPrinterOptions{
		Name: "cardline label printer", MediaName: printer.Label4x6MediaName, Media: printer.Label4x6,
		Simplex: true, Formats: []string{FormatPDF, FormatZPL},
	})
	c, err := printer.NewClient(v.URI, printer.ClientOptions{RequestTimeout: 5 * time.Second, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	fixed := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	l, err := NewLabeler(LabelConfig{Sender: testSender, Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	labels := testBatch(t).Labels()
	for i, tc := range []struct {
		zpl    bool
		format string
	}{{false, FormatPDF}, {true, FormatZPL}} {
		want, err := l.LabelDocument(st, "B20261123-1500", labels, tc.zpl)
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.PrintLabels(ctx, c, "B20261123-1500", labels, tc.zpl, nil)
		if err != nil {
			t.Fatalf("print %s: %v", tc.format, err)
		}
		if res.State != "completed" {
			t.Errorf("%s job: %+v", tc.format, res)
		}
		got, err := v.Job(i + 1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Document, want.Data) || len(want.Data) == 0 {
			t.Errorf("%s: spooled document differs: %d bytes, sent %d", tc.format, len(got.Document), len(want.Data))
		}
		for k, w := range map[string]string{
			"IPP_JOB_NAME": "B20261123-1500",
			"IPP_MEDIA":    printer.Label4x6MediaName,
			"CONTENT_TYPE": tc.format,
		} {
			if got.Attributes[k] != w {
				t.Errorf("%s: %s = %q, want %q (all: %v)", tc.format, k, got.Attributes[k], w, got.Attributes)
			}
		}
	}

	// A card printer (CR80 media, PWG Raster only) is refused before anything is sent.
	if _, err := l.LabelDocument(&printer.PrinterStatus{MediaReady: []string{printer.CR80MediaName}, DocumentFormats: []string{"image/pwg-raster"}}, "B1", labels, false); err == nil {
		t.Error("labels accepted by a card printer")
	}
}
