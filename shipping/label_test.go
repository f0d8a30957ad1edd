package shipping

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cardline/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite the golden label rendering in testdata")

// worstLabel is valid at every limit with the widest letters: words of 16 Æ (two never share a
// line, so wrapping wastes the most), a 64-character order id.
func worstLabel() Label {
	words := func(n int) string { // n runes of 16-letter words
		var b strings.Builder
		for b.Len() < 3*n { // Æ is 2 bytes; count runes below
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			b.WriteString(strings.Repeat("Æ", 16))
		}
		r := []rune(b.String())[:n]
		return strings.TrimSpace(string(r))
	}
	return Label{Kind: LetterLabel, ID: "E123456789799", OrderID: strings.Repeat("W", 64),
		To: Address{Name: words(MaxNameRunes), Attention: words(MaxAttentionRunes), Street: words(MaxStreetRunes),
			PostalCode: "9999", City: words(MaxCityRunes), Country: "NO"},
		Content: "HMS-kort 500 av 500"}
}

// TestValidAddressesFit is the promise behind Address.Validate: every address it accepts fits a
// label, in both renderers (they share the layout). Random addresses up to every limit, with the
// widest letters.
func TestValidAddressesFit(t *testing.T) {
	l := newTestLabeler(t)
	if err := l.Check(worstLabel()); err != nil {
		t.Fatalf("worst valid label: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	letters := []rune("ÆWMØÅŁŽŠĄmwæøåIi.-")
	text := func(max int) string {
		n := 1 + rng.IntN(max)
		var r []rune
		for len(r) < n {
			w := 1 + rng.IntN(MaxLabelWordRunes)
			if len(r) > 0 {
				r = append(r, ' ')
			}
			for range w {
				r = append(r, letters[rng.IntN(len(letters))])
			}
		}
		return strings.TrimSpace(string(r[:n]))
	}
	for i := range 2000 {
		a := Address{Name: text(MaxNameRunes), Attention: text(MaxAttentionRunes), Street: text(MaxStreetRunes),
			PostalCode: fmt.Sprintf("%04d", i), City: text(MaxCityRunes), Country: "NO"}
		if a.Validate() != nil {
			continue // a word cut at the end by the length bound can end in a space; skip those
		}
		if err := l.Check(Label{Kind: LetterLabel, ID: "E123456789701", OrderID: "A-2026-0001234", To: a, Content: "HMS-kort 1 av 1"}); err != nil {
			t.Fatalf("valid address does not fit: %+v\n%v", a, err)
		}
	}
}

func TestLabelRefusesWhatDoesNotFit(t *testing.T) {
	l := newTestLabeler(t)
	lb := sampleLabels()[0]
	lb.To.Street = "Storgata " + strings.Repeat("x", 31)
	lb.Content = strings.Repeat("HMS-kort ", 200)
	err := l.WritePDF(&bytes.Buffer{}, []Label{sampleLabels()[1], lb})
	var got []string
	for _, fe := range FieldErrors(err) {
		got = append(got, fe.Field+":"+fe.Rule)
	}
	want := "street:word-length,content:label-space"
	if strings.Join(got, ",") != want || !strings.Contains(err.Error(), "label E100000001601") {
		t.Errorf("WritePDF error = %v\nfields %v, want %s", err, got, want)
	}
	var zpl bytes.Buffer
	if err := l.WriteZPL(&zpl, []Label{lb}); err == nil || zpl.Len() > 0 {
		t.Errorf("WriteZPL wrote %d bytes, err %v; want nothing and an error", zpl.Len(), err)
	}
}

// TestLabelFontsCoverLabelRunes: every character Validate lets through has a glyph in both fonts
// (NewLabeler refuses otherwise), so no label prints a blank box for a letter.
func TestLabelFontsCoverLabelRunes(t *testing.T) {
	l := newTestLabeler(t)
	n := 0
	for r := rune(0); r < 0x3000; r++ {
		if !LabelRune(r) {
			continue
		}
		n++
		if _, ok := l.regular.adv[r]; !ok {
			t.Errorf("no regular glyph for %q", r)
		}
		if _, ok := l.bold.adv[r]; !ok {
			t.Errorf("no bold glyph for %q", r)
		}
	}
	if n < 300 {
		t.Errorf("only %d label runes", n)
	}
}

// TestLabelsPDF checks the PDF through independent tools: qpdf's structure check, the Code 128 of
// every page decoded by zbarimg from a pdftoppm rendering, the text (diacritics included)
// extracted by pdftotext, and page 1 against the golden rendering in testdata.
func TestLabelsPDF(t *testing.T) {
	qpdf := testsupport.Need(t, "qpdf")
	pdftoppm := testsupport.Need(t, "pdftoppm")
	pdftotext := testsupport.Need(t, "pdftotext")
	zbarimg := testsupport.Need(t, "zbarimg")
	pdfinfo := testsupport.Need(t, "pdfinfo")

	l := newTestLabeler(t)
	labels := append(sampleLabels(), worstLabel())
	dir := t.TempDir()
	pdf := filepath.Join(dir, "labels.pdf")
	var buf bytes.Buffer
	if err := l.WritePDF(&buf, labels); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdf, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run(qpdf, "--check", pdf)

	if got := strings.Join(strings.Fields(run(pdfinfo, pdf)), " "); !strings.Contains(got, "Pages: 3") || !strings.Contains(got, "Page size: 288 x 432 pts") {
		t.Errorf("pdfinfo: want 3 pages of 4 × 6 in (288 × 432 pt):\n%s", got)
	}

	run(pdftoppm, "-r", "150", "-gray", "-png", pdf, filepath.Join(dir, "page"))
	for i, lb := range labels {
		page := filepath.Join(dir, fmt.Sprintf("page-%d.png", i+1))
		// zbarimg exits 4 when it finds nothing; its stderr may carry D-Bus noise.
		out, _ := exec.Command(zbarimg, "-q", "--raw", page).Output()
		if got := strings.TrimSpace(string(out)); got != lb.ID {
			t.Errorf("page %d: barcode decodes as %q, want %q", i+1, got, lb.ID)
		}
	}

	text := strings.Join(strings.Fields(run(pdftotext, pdf, "-")), " ")
	for _, want := range []string{
		"Bygg og Rør Østlandet AS avd. Łódź–Šiauliai Entreprenørforretning",
		"Att: HR v/ Żaneta Grzegorzewska-Jankauskienė", "Kåre Wøllers gate 17 B", "0155 OSLO",
		"NORGE P.P.", "Avsender / returadresse: Cardline Produksjon AS Postboks 123 Sentrum 0102 OSLO",
		"HMS-kort 1 av 3", "Ordre A-2026-0001234", "Pakke: 2 × cardholder, 1 × lanyard",
		worstLabel().To.Name, worstLabel().To.City,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}

	// The golden rendering of page 1 at 100 dpi: a look at it is the review of the layout.
	run(pdftoppm, "-r", "100", "-gray", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, filepath.Join(dir, "golden"))
	got, err := os.ReadFile(filepath.Join(dir, "golden.png"))
	if err != nil {
		t.Fatal(err)
	}
	testsupport.Golden(t, filepath.Join("testdata", "label-letter.png"), got, *update, 96, 0.005)
}

// TestLabelsPDFSheet: four labels to an A4 page, every barcode still decodes at its 97 % scale.
func TestLabelsPDFSheet(t *testing.T) {
	qpdf := testsupport.Need(t, "qpdf")
	pdftoppm := testsupport.Need(t, "pdftoppm")
	pdfinfo := testsupport.Need(t, "pdfinfo")
	zbarimg := testsupport.Need(t, "zbarimg")

	l := newTestLabeler(t)
	var labels []Label
	for i := range 5 {
		lb := sampleLabels()[i%2]
		id, err := NewEnvelopeID("1234567897", i+1)
		if err != nil {
			t.Fatal(err)
		}
		lb.ID = string(id)
		labels = append(labels, lb)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "sheet.pdf")
	var buf bytes.Buffer
	if err := l.WritePDFSheet(&buf, labels); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdf, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qpdf, "--check", pdf).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	info, _ := exec.Command(pdfinfo, pdf).Output()
	if got := strings.Join(strings.Fields(string(info)), " "); !strings.Contains(got, "Pages: 2") || !strings.Contains(got, "(A4)") {
		t.Errorf("pdfinfo: want 2 A4 pages:\n%s", got)
	}
	if out, err := exec.Command(pdftoppm, "-r", "200", "-gray", "-png", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	var got []string
	for _, page := range []string{"page-1.png", "page-2.png"} {
		out, _ := exec.Command(zbarimg, "-q", "--raw", filepath.Join(dir, page)).Output()
		got = append(got, strings.Fields(string(out))...)
	}
	slices.Sort(got)
	var want []string
	for _, lb := range labels {
		want = append(want, lb.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("barcodes decoded %v, want %v", got, want)
	}
}

// TestLabelsPDFDeterministic: the same labels on the same clock make the same bytes, on pages
// and on sheets, so a reprint is identical and a spooled job can be compared with what was sent.
func TestLabelsPDFDeterministic(t *testing.T) {
	fixed := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	l, err := NewLabeler(LabelConfig{Sender: testSender, Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func(*bytes.Buffer, []Label) error{
		"pages":  func(b *bytes.Buffer, ls []Label) error { return l.WritePDF(b, ls) },
		"sheets": func(b *bytes.Buffer, ls []Label) error { return l.WritePDFSheet(b, ls) },
	} {
		var first []byte
		for i := range 10 {
			var b bytes.Buffer
			if err := write(&b, append(sampleLabels(), worstLabel())); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = b.Bytes()
			} else if !bytes.Equal(first, b.Bytes()) {
				t.Fatalf("%s: render %d differs from the first", name, i)
			}
		}
	}
}
