package shipping

import (
	"fmt"
	"io"
	"testing"
)

// thousandLabels are 1,000 letter labels with varied long Norwegian addresses.
func thousandLabels(b testing.TB) []Label {
	base := sampleLabels()[0]
	out := make([]Label, 1000)
	for i := range out {
		lb := base
		id, err := NewEnvelopeID("1234567897", 1+i%99)
		if err != nil {
			b.Fatal(err)
		}
		lb.ID = string(id)
		lb.To.Street = fmt.Sprintf("Kåre Wøllers gate %d", i)
		lb.Content = fmt.Sprintf("HMS-kort %d av 1000", i+1)
		out[i] = lb
	}
	return out
}

func BenchmarkLabels1000PDF(b *testing.B) {
	l := newTestLabeler(b)
	labels := thousandLabels(b)
	for b.Loop() {
		if err := l.WritePDF(io.Discard, labels); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLabels1000ZPL(b *testing.B) {
	l := newTestLabeler(b)
	labels := thousandLabels(b)
	for b.Loop() {
		if err := l.WriteZPL(io.Discard, labels); err != nil {
			b.Fatal(err)
		}
	}
}
