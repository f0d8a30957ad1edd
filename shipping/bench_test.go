package shipping

import (
	"io"
	"testing"
)

func BenchmarkLabels1000PDF(b *testing.B) {
	l := newTestLabeler(b)
	labels := manyLabels(b, 1000)
	for b.Loop() {
		if err := l.WritePDF(io.Discard, labels); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLabels1000ZPL(b *testing.B) {
	l := newTestLabeler(b)
	labels := manyLabels(b, 1000)
	for b.Loop() {
		if err := l.WriteZPL(io.Discard, labels); err != nil {
			b.Fatal(err)
		}
	}
}
