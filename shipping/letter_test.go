package shipping

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cardline/internal/testsupport"
)

// TestCarrierLetters renders two letters, one with a long employer name and a Cyrillic holder
// name, and checks the PDF with qpdf and its text with pdftotext: one page per letter, both
// languages, every word of the long name (wrapped, not cut).
func TestCarrierLetters(t *testing.T) {
	qpdf := testsupport.Need(t, "qpdf")
	pdftotext := testsupport.Need(t, "pdftotext")
	to := Address{Name: "Bygg og Rør AS", Attention: "HR", Street: "Storgata 1", PostalCode: "0155", City: "OSLO", Country: "NO"}
	long := "Trøndelag Betong Stillas Anleggsgartnerforretning og Maskinentreprenør Åsheim Sønner og Døtre Holding Aksjeselskap Avdeling Nord"
	letters := []Letter{
		{Envelope: "E100000001601", CardNumber: "1000000016", OrderID: "A-2026-0001234", HolderName: "Żaneta Grzegorzewska-Jankauskienė",
			Company: "Bygg og Rør AS", To: to, Index: 1, Of: 2},
		{Envelope: "E100000002401", CardNumber: "1000000024", OrderID: "A-2026-0001234", HolderName: "Ольга Ødegård",
			Company: long, To: to, Index: 2, Of: 2},
	}
	var buf bytes.Buffer
	if err := newTestLabeler(t).WriteLetters(&buf, letters); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "letters.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	out, err := exec.Command(pdftotext, path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(strings.TrimRight(string(out), "\f"), "\f")
	if len(pages) != 2 {
		t.Fatalf("%d pages, want one per letter:\n%s", len(pages), out)
	}
	for i, want := range [][]string{
		{"Ditt HMS-kort / Your HSE card", "Żaneta Grzegorzewska-Jankauskienė", "1000000016", "E100000001601", "1 av 2 / 1 of 2",
			"Kontakt den som bestilte kortet", "Contact the person who ordered the card", "Cardline Produksjon AS"},
		append([]string{"Ольга Ødegård", "1000000024"}, strings.Fields(long)...),
	} {
		for _, w := range want {
			if !strings.Contains(pages[i], w) {
				t.Errorf("letter %d lacks %q:\n%s", i+1, w, pages[i])
			}
		}
	}
	if err := newTestLabeler(t).WriteLetters(&buf, nil); err == nil {
		t.Error("no letters: no error")
	}
}
