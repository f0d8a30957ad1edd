package shipping

import (
	"fmt"
	"runtime"
	"testing"
)

// manyLabels are n letter labels with varied long Norwegian addresses.
func manyLabels(t testing.TB, n int) []Label {
	base := sampleLabels()[0]
	out := make([]Label, n)
	for i := range out {
		lb := base
		id, err := NewEnvelopeID("1234567897", 1+i%99)
		if err != nil {
			t.Fatal(err)
		}
		lb.ID = string(id)
		lb.To.Street = fmt.Sprintf("Kåre Wøllers gate %d", i)
		lb.Content = fmt.Sprintf("HMS-kort %d av %d", i+1, n)
		out[i] = lb
	}
	return out
}

// heapWatcher is an io.Writer that discards the PDF and, every few writes, notes the heap in
// use: the high-water mark of what rendering holds, garbage not yet collected included (what the
// process's RSS follows).
type heapWatcher struct {
	writes, bytes, largest int
	peak                   uint64
	stats                  runtime.MemStats
}

func (w *heapWatcher) Write(p []byte) (int, error) {
	w.writes++
	w.bytes += len(p)
	w.largest = max(w.largest, len(p))
	if w.writes%50 == 1 {
		runtime.ReadMemStats(&w.stats)
		w.peak = max(w.peak, w.stats.HeapInuse)
	}
	return len(p), nil
}

// heapInUse is the heap in use after a collection: what is live.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestLabelsPDFBoundedMemory renders 10,000 labels and checks that they stream: every page
// reaches the writer as its own write, none larger than a page and the fonts at the end, and
// the heap in use while rendering stays within a few megabytes of what it was before, where
// fpdf held the whole document and reached hundreds.
func TestLabelsPDFBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 10,000 labels")
	}
	l := newTestLabeler(t)
	labels := manyLabels(t, 10000)
	if _, err := labelFonts(); err != nil { // parsed once per process, not part of a document
		t.Fatal(err)
	}
	base := heapInUse()
	w := &heapWatcher{}
	if err := l.WritePDF(w, labels); err != nil {
		t.Fatal(err)
	}
	growth := float64(w.peak-min(w.peak, base)) / (1 << 20)
	t.Logf("%d writes, %.1f MB, largest %d B; heap in use %.1f MB before, peak %.1f MB above it",
		w.writes, float64(w.bytes)/(1<<20), w.largest, float64(base)/(1<<20), growth)
	if w.writes < len(labels) {
		t.Errorf("%d writes for %d pages: pages are gathered, not streamed", w.writes, len(labels))
	}
	if w.largest > 128<<10 {
		t.Errorf("a write of %d bytes: more than a page or a font at a time", w.largest)
	}
	if growth > 24 {
		t.Errorf("heap in use rose %.1f MB while rendering 10,000 labels; want it bounded (< 24 MB)", growth)
	}
}

// BenchmarkLabels10000PDFMemory reports what 10,000 labels cost in memory: bytes allocated per
// label and the high-water mark of the heap in use above what it was before rendering.
func BenchmarkLabels10000PDFMemory(b *testing.B) {
	l := newTestLabeler(b)
	labels := manyLabels(b, 10000)
	if _, err := labelFonts(); err != nil {
		b.Fatal(err)
	}
	var peak uint64
	base := heapInUse()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		w := &heapWatcher{}
		if err := l.WritePDF(w, labels); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, w.peak-min(w.peak, base))
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(labels)), "B/label")
}
