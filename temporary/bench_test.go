package temporary

import (
	"io"
	"testing"
)

// BenchmarkPDF renders one temporary card page with photo and QR code.
func BenchmarkPDF(b *testing.B) {
	c := sampleCard(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := WritePDF(io.Discard, c); err != nil {
			b.Fatal(err)
		}
	}
}
