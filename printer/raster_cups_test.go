package printer_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cardline/internal/testsupport"
	"cardline/printer"
)

// TestRasterReadByCUPS has CUPS's own PWG Raster reader (rastertopdf from cups-filters) read the
// document a card printer gets, renders its pages with pdftoppm, and checks them: two portrait
// pages of 638 × 1011 px, the front turned clockwise, and a back whose QR code zbarimg reads and
// whose signature holds.
func TestRasterReadByCUPS(t *testing.T) {
	rastertopdf := testsupport.Need(t, "rastertopdf", "/usr/lib/cups/filter")
	pdftoppm := testsupport.Need(t, "pdftoppm")
	zbarimg := testsupport.Need(t, "zbarimg")
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	r, err := printer.NewRenderer(printer.Options{StatusBaseURL: "https://status.hms.example/k", SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	f := printer.SampleFace(printer.Cleaning)
	front, back, err := r.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc bytes.Buffer
	if err := printer.EncodeRaster(&doc, printer.RasterOptions{MediaName: printer.CR80MediaName, Sides: "two-sided-short-edge"}, front, back); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rastertopdf, "1", "cardline", f.CardNumber, "1", "")
	cmd.Stdin = &doc
	cmd.Env = append(os.Environ(), "CONTENT_TYPE=image/pwg-raster")
	var pdf, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &pdf, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rastertopdf: %v\n%s", err, stderr.String())
	}
	pdfPath := filepath.Join(dir, "card.pdf")
	if err := os.WriteFile(pdfPath, pdf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, pdftoppm, "-r", "300", "-png", pdfPath, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages := make([]image.Image, 2)
	for i := range pages {
		fh, err := os.Open(filepath.Join(dir, "page-"+string(rune('1'+i))+".png"))
		if err != nil {
			t.Fatalf("page %d: %v", i+1, err)
		}
		pages[i], err = png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := pages[i].Bounds(); b.Dx() != 638 || b.Dy() != 1011 {
			t.Fatalf("page %d is %v, want 638×1011", i+1, b.Size())
		}
	}
	// The front, turned: face pixel (x, y) at page (637-y, x), colours within ICC rounding.
	var diff, n int
	for y := 0; y < printer.FaceHeight; y += 5 {
		for x := 0; x < printer.FaceWidth; x += 5 {
			c := front.RGBAAt(x, y)
			r, g, b, _ := pages[0].At(637-y, x).RGBA()
			diff += absInt(int(r>>8)-int(c.R)) + absInt(int(g>>8)-int(c.G)) + absInt(int(b>>8)-int(c.B))
			n += 3
		}
	}
	mean := float64(diff) / float64(n)
	t.Logf("front page vs face: %.2f per channel", mean)
	if mean > 4 {
		t.Errorf("front page differs from the face by %.1f per channel on average", mean)
	}
	out, err := exec.CommandContext(ctx, zbarimg, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", filepath.Join(dir, "page-2.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg on the printed back: %v", err)
	}
	card, _, err := printer.VerifyStatusURL(key.Public().(ed25519.PublicKey), strings.TrimSpace(string(out)))
	if err != nil || card != f.CardNumber {
		t.Fatalf("QR on the printed back: %q, %v", card, err)
	}
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
