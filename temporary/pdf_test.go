package temporary

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cardline/internal/testsupport"
	"cardline/printer"
	"cardline/production"
)

var update = flag.Bool("update", false, "rewrite the golden rendering in testdata")

// TestPDFThroughPoppler checks each PDF with tools that did not make it: qpdf for structure,
// pdffonts for embedded fonts with Unicode maps, pdftotext for the fields, and pdftoppm at print
// resolution + zbarimg for the QR codes, whose payload must verify as the card's signed status URL.
func TestPDFThroughPoppler(t *testing.T) {
	qpdf := testsupport.Need(t, "qpdf")
	pdftotext := testsupport.Need(t, "pdftotext")
	pdffonts := testsupport.Need(t, "pdffonts")
	pdftoppm := testsupport.Need(t, "pdftoppm")
	zbarimg := testsupport.Need(t, "zbarimg")

	norwegian := sampleCard(t)
	long := sampleCard(t)
	long.CardType = production.Cleaning
	long.GivenName = "Aleksandra Małgorzata Żaneta Agnė Rūta Žydrūnė Łucja Świętosława"                               // 64 runes
	long.FamilyName = "Grzegorzewska-Kazlauskienė-Jankauskaitė-Šimkutė-Ødegård-Åsheim-Wiśniewska-Brzęczyszczykiewicz" // 92 runes
	long.OrgName = "Trøndelag Betong, Stillas og Anleggsgartner Åsheim og Sønner, avdeling Sør-Trøndelag og Nordmøre AS"
	known := sampleCard(t)
	known.CardType = production.Transport
	known.ValidUntil, known.ExpiryKnown = ValidUntil(time.Date(2028, 12, 1, 0, 0, 0, 0, time.UTC), known.Issued, oslo)
	var err error
	if known.StatusURL, err = printer.StatusURL(testStatusBase, testKey, known.CardNumber, known.ValidUntil); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		card *Card
		want []string
	}{
		{"norwegian", norwegian, []string{"Bygg og anlegg", "Construction", "aldri etter 22.11.2028", "will not be earlier than this date"}},
		{"long names", long, []string{"Renhold", "Cleaning"}},
		{"expiry known", known, []string{"Transport", "Goods transport", "aldri etter 01.12.2028", "expiry date is set"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "card.pdf")
			b, err := RenderPDF(c.card)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(qpdf, "--check", file).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
				t.Errorf("qpdf --check: %v\n%s", err, out)
			}
			if out, err := exec.Command(qpdf, "--show-npages", file).Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
				t.Errorf("pages: %s (%v)", out, err)
			}
			fonts, err := exec.Command(pdffonts, file).Output()
			if err != nil {
				t.Fatal(err)
			}
			rows := strings.Split(strings.TrimSpace(string(fonts)), "\n")[2:]
			if len(rows) != 2 {
				t.Errorf("fonts: want the two Go faces:\n%s", fonts)
			}
			for _, r := range rows {
				if f := strings.Fields(r); len(f) < 7 || f[len(f)-5] != "yes" || f[len(f)-3] != "yes" {
					t.Errorf("font not embedded with a Unicode map: %s", r)
				}
			}

			text, err := exec.Command(pdftotext, file, "-").Output()
			if err != nil {
				t.Fatal(err)
			}
			// pdftotext joins a line that ends in a hyphen to the next and drops the hyphen, as if it
			// were a word break: compare without spaces and hyphens.
			squash := func(s string) string { return strings.ReplaceAll(strings.Join(strings.Fields(s), ""), "-", "") }
			flat := squash(string(text))
			card := c.card
			fields := append([]string{"Midlertidig HMS-kort", "Temporary HSE card", card.GivenName, card.FamilyName, card.FullName(),
				date(card.BirthDate), card.OrgName, orgNumber(card.OrgNumber), card.CardNumber, card.OrderID, "Utstedt", date(card.Issued),
				"Gyldig til", date(card.ValidUntil), "Valid until the physical HSE card has been received"}, c.want...)
			for _, f := range fields {
				if !strings.Contains(flat, squash(f)) {
					t.Errorf("text lacks %q:\n%s", f, text)
				}
			}

			if out, err := exec.Command(pdftoppm, "-r", "300", "-png", "-singlefile", file, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v: %s", err, out)
			}
			out, err := exec.Command(zbarimg, "-q", "--raw", filepath.Join(dir, "page.png")).Output()
			if err != nil {
				t.Fatalf("zbarimg found no code: %v", err)
			}
			codes := strings.Fields(string(out))
			if len(codes) != 2 {
				t.Errorf("zbarimg found %d codes, want 2 (card panel and page): %q", len(codes), codes)
			}
			for _, code := range codes {
				if code != card.StatusURL {
					t.Errorf("QR code %q, want %q", code, card.StatusURL)
				}
				n, until, err := printer.VerifyStatusURL(testKey.Public().(ed25519.PublicKey), code)
				if err != nil || n != card.CardNumber || until.Format(time.DateOnly) != card.ValidUntil.Format(time.DateOnly) {
					t.Errorf("QR code does not verify: card %s until %s: %v", n, until, err)
				}
			}
		})
	}
}

// TestPDFRefusesIncompleteCard: a card without a photo (deleted by retention) is not rendered.
func TestPDFRefusesIncompleteCard(t *testing.T) {
	c := sampleCard(t)
	c.PhotoJPEG = nil
	if _, err := RenderPDF(c); err == nil || !strings.Contains(err.Error(), "photo") {
		t.Errorf("rendered a card without photo: %v", err)
	}
}

// TestPDFGolden compares the sample card's rendering with testdata/temporary-card.png (look at it;
// rewrite it with -update after a deliberate change). The PDF is deterministic, so any change of
// layout shows.
func TestPDFGolden(t *testing.T) {
	pdftoppm := testsupport.Need(t, "pdftoppm")
	b, err := RenderPDF(sampleCard(t))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := RenderPDF(sampleCard(t))
	if !bytes.Equal(b, again) {
		t.Error("two renderings of the same card differ")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "card.pdf"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pdftoppm, "-r", "100", "-png", "-singlefile", filepath.Join(dir, "card.pdf"), filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	testsupport.Golden(t, filepath.Join("testdata", "temporary-card.png"), got, *update, 24, 0.002)
}
