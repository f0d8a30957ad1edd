package printer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"cardline/internal/testsupport"
	"cardline/printer"
)

// BenchmarkPrintCardRoundTrip is one card through ippeveprinter on loopback: Get-Printer-Attributes,
// PWG Raster encoding, Print-Job, the printer's print command, Get-Job-Attributes until completed.
// The poll interval is 10 ms here (250 ms by default), so the figure is the printer's cost plus
// at most one poll. It reports the median next to the mean.
func BenchmarkPrintCardRoundTrip(b *testing.B) {
	v := testsupport.VirtualPrinter(b, printer.VirtualPrinterOptions{})
	c, err := printer.NewClient(v.URI, printer.ClientOptions{RequestTimeout: 5 * time.Second, PollInterval: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	job := renderSample(b)
	ctx := context.Background()
	var times []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.PrintCard(ctx, job, nil); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns/op")
}
