package pdf

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"cardline/internal/testsupport"
)

func TestStrings(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"literal plain", appendLiteral(nil, "nb-NO"), "(nb-NO)"},
		{"literal delimiters and escape", appendLiteral(nil, `a(b)c\d`), `(a\(b\)c\\d)`},
		{"literal unbalanced", appendLiteral(nil, `)(`), `(\)\()`},
		{"literal line ending and high bytes", appendLiteral(nil, "a\r\nø"), `(a\015\012\303\270)`},
		{"text ASCII is a literal", appendText(nil, "HSE card (1)"), `(HSE card \(1\))`},
		{"text beyond ASCII is UTF-16 with BOM", appendText(nil, "Łø"), "<FEFF014100F8>"},
		{"text beyond the BMP is a surrogate pair", appendText(nil, "a😀"), "<FEFF0061D83DDE00>"},
		{"number rounded to thousandths", appendNum(nil, 2.0/3), "0.667"},
		{"number without trailing zeros", appendNum(nil, 42.5), "42.5"},
		{"negative zero", appendNum(nil, -0.0001), "0"},
		{"date in Oslo", []byte(pdfDate(time.Date(2026, 11, 23, 10, 30, 5, 0, time.FixedZone("CET", 3600)))), "D:20261123103005+01'00'"},
		{"date west of UTC", []byte(pdfDate(time.Date(2026, 7, 1, 8, 0, 0, 0, time.FixedZone("", -(3*3600+30*60))))), "D:20260701080000-03'30'"},
		{"date in UTC", []byte(pdfDate(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))), "D:20260102030405Z"},
	} {
		if string(c.got) != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestParseJPEG(t *testing.T) {
	var rgb, grey bytes.Buffer
	if err := jpeg.Encode(&rgb, image.NewRGBA(image.Rect(0, 0, 30, 20)), nil); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&grey, image.NewGray(image.Rect(0, 0, 7, 9)), nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		data       []byte
		w, h       int
		colour     string
		wantErrSub string
	}{
		{"colour", rgb.Bytes(), 30, 20, "/DeviceRGB", ""},
		{"grey", grey.Bytes(), 7, 9, "/DeviceGray", ""},
		{"PNG", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), 0, 0, "", "start-of-image"},
		{"cut before the frame", rgb.Bytes()[:20], 0, 0, "", "no frame header"},
		{"empty", nil, 0, 0, "", "start-of-image"},
	} {
		img, err := ParseJPEG(c.data)
		switch {
		case c.wantErrSub != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErrSub) {
				t.Errorf("%s: error %v, want one about %q", c.name, err, c.wantErrSub)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case img.Width != c.w || img.Height != c.h || img.colourSpace() != c.colour:
			t.Errorf("%s: %d×%d %s, want %d×%d %s", c.name, img.Width, img.Height, img.colourSpace(), c.w, c.h, c.colour)
		}
	}
}

// TestDocument writes a page with everything the writer can draw, and checks it with tools that
// did not make it: our own reading of the cross-reference table, qpdf for the structure and
// pdftotext for the text, European names and PDF's string delimiters included.
func TestDocument(t *testing.T) {
	qpdf := testsupport.Need(t, "qpdf")
	pdftotext := testsupport.Need(t, "pdftotext")
	regular, err := ParseTrueType(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	bold, err := ParseTrueType(gobold.TTF)
	if err != nil {
		t.Fatal(err)
	}
	var photo bytes.Buffer
	m := image.NewRGBA(image.Rect(0, 0, 60, 80))
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	if err := jpeg.Encode(&photo, m, nil); err != nil {
		t.Fatal(err)
	}
	img, err := ParseJPEG(photo.Bytes())
	if err != nil {
		t.Fatal(err)
	}

	lines := []string{"Łukasz Żółć", "Ėglė Šimkutė", "Ærlig Østby Åsen", `(parentheses) and \backslash\ (`}
	words := map[string]float64{} // the first word of each line and its width in points as we measure it
	d := New(210, 297, 72/25.4, Info{Title: "Test (1) \\ ø", Subject: "Łukasz Żółć", Creator: "cardline", Producer: "cardline",
		Created: time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC), Lang: "nb-NO"})
	for i, s := range lines {
		f := regular
		if i%2 == 1 {
			f = bold
		}
		d.SetFont(f, 12)
		d.SetTextColor(RGB{R: uint8(40 * i)})
		d.Text(20, 20+10*float64(i), s)
		first := strings.Fields(s)[0]
		words[first] = f.Width(first, 12)
	}
	d.SetFillColor(RGB{R: 0xf2, G: 0x8c})
	d.RoundedRect(20, 70, 85.6, 54, 3.18, AllCorners, Fill)
	d.RoundedRect(20, 70, 85.6, 8.5, 3.18, TopLeft|TopRight, Fill|Stroke)
	d.Save()
	d.ClipRect(25, 80, 20, 25)
	d.DrawImage(img, 25, 80, 22, 30)
	d.Restore()
	d.SetStrokeColor(RGB{R: 0x5a, G: 0x5a, B: 0x5a})
	d.SetLineWidth(0.3)
	d.SetDash([]float64{2, 1.2}, 0)
	d.Line(20, 130, 190, 130)
	d.SetDash(nil, 0)
	d.SetFillColor(RGB{})
	d.FillBitmap(120, 70, 2, [][]bool{{true, true, false, true}, {false, true, true, true}})
	d.Link(20, 140, 100, 5, "https://status.example/k/1?s=a(b)c\\")

	var out bytes.Buffer
	if err := d.Write(&out); err != nil {
		t.Fatal(err)
	}
	b := out.Bytes()
	checkXref(t, b)

	file := filepath.Join(t.TempDir(), "test.pdf")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qpdf, "--check", file).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
	text, err := exec.Command(pdftotext, file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range lines {
		if !strings.Contains(string(text), s) {
			t.Errorf("pdftotext lacks %q:\n%s", s, text)
		}
	}
	// The widths we measure with are the widths the viewer sets the text with (the W array).
	boxes, err := exec.Command(pdftotext, "-bbox", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>`).FindAllStringSubmatch(string(boxes), -1) {
		want, ok := words[html.UnescapeString(m[3])]
		if !ok {
			continue
		}
		delete(words, html.UnescapeString(m[3]))
		x0, _ := strconv.ParseFloat(m[1], 64)
		x1, _ := strconv.ParseFloat(m[2], 64)
		if math.Abs(x0-20*72/25.4) > 0.01 || math.Abs(x1-x0-want) > 0.05 {
			t.Errorf("%q set from %.3f to %.3f pt, want from %.3f, %.3f wide", m[3], x0, x1, 20*72/25.4, want)
		}
	}
	if len(words) > 0 {
		t.Errorf("pdftotext -bbox lacks %v:\n%s", words, boxes)
	}
	info, err := exec.Command(testsupport.Need(t, "pdfinfo"), file).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Test (1) \\ ø", "Subject:         Łukasz Żółć", "Creator:         cardline"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("pdfinfo lacks %q:\n%s", want, info)
		}
	}
	// The document must not keep a Save open past Write.
	d.Save()
	if err := d.Write(&out); err == nil {
		t.Error("wrote a document with an unbalanced Save")
	}
}

// checkXref reads the cross-reference table the way a reader does, from startxref, and checks
// that each entry points at the start of its object.
func checkXref(t *testing.T, b []byte) {
	t.Helper()
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no startxref at the end")
	}
	at, _ := strconv.Atoi(string(m[1]))
	x := regexp.MustCompile(`^xref\n0 (\d+)\n0000000000 65535 f \n`).FindSubmatch(b[at:])
	if x == nil {
		t.Fatalf("startxref %d does not point at an xref table: %q", at, b[at:min(len(b), at+40)])
	}
	n, _ := strconv.Atoi(string(x[1]))
	entries := b[at+len(x[0]):]
	for i := 1; i < n; i++ {
		e := string(entries[(i-1)*20 : i*20])
		if len(e) != 20 || !strings.HasSuffix(e, " 00000 n \n") {
			t.Fatalf("entry %d is not 20 bytes of an object in use: %q", i, e)
		}
		off, _ := strconv.Atoi(e[:10])
		if want := fmt.Sprintf("%d 0 obj\n", i); !bytes.HasPrefix(b[off:], []byte(want)) {
			t.Errorf("object %d: offset %d points at %q", i, off, b[off:min(len(b), off+12)])
		}
	}
	if !bytes.Contains(entries[(n-1)*20:], []byte(fmt.Sprintf("/Size %d ", n))) {
		t.Errorf("trailer /Size is not %d", n)
	}
}

// TestSubset: a subset keeps the outlines of the glyphs used and of the glyphs they are composed
// of, empties the others, and is a well-formed font file. The Go fonts have no composite glyphs;
// DejaVu Sans (Debian's fonts-dejavu-core, which poppler's fontconfig pulls in) makes À of A and
// a grave accent.
func TestSubset(t *testing.T) {
	const dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	ttf, err := os.ReadFile(dejavu)
	if err != nil {
		testsupport.Missing(t, "DejaVu Sans (fonts-dejavu-core): %v", err)
		return
	}
	f, err := ParseTrueType(ttf)
	if err != nil {
		t.Fatal(err)
	}
	keep := make([]bool, len(f.width))
	for _, r := range "Àø" {
		keep[f.glyph(r)] = true
	}
	agrave := f.glyph('À')
	if len(f.parts[agrave]) == 0 {
		t.Fatal("À is not a composite glyph in DejaVu Sans: the test needs another")
	}
	b := f.subset(keep)
	if got := checksum(b); got != 0xB1B0AFBA {
		t.Errorf("font checksum %#x, want 0xB1B0AFBA (checkSumAdjustment)", got)
	}
	sf, err := sfnt.Parse(b)
	if err != nil {
		t.Fatalf("subset does not parse: %v", err)
	}
	var buf sfnt.Buffer
	outline := func(g uint16) bool {
		segs, err := sf.LoadGlyph(&buf, sfnt.GlyphIndex(g), fixed.I(1000), nil)
		if err != nil {
			t.Fatalf("glyph %d: %v", g, err)
		}
		return len(segs) > 0
	}
	for _, g := range append([]uint16{agrave, f.glyph('ø')}, f.parts[agrave]...) {
		if !outline(g) {
			t.Errorf("glyph %d lost its outline", g)
		}
	}
	for _, r := range "BxÆÁ" {
		if outline(f.glyph(r)) {
			t.Errorf("unused glyph %q kept its outline", r)
		}
	}
	if len(b) > len(ttf)/4 {
		t.Errorf("subset of two letters is %d bytes of %d", len(b), len(ttf))
	}
}

// TestPages: a document of several pages, of two sizes, written as it goes. Each page reaches the
// writer when the next one starts; the fonts, used on different pages, are written once, with the
// glyphs of every page; an image drawn on two pages is embedded once; a transformed page places
// text and links where the transform says. qpdf, pdfinfo and pdftotext read it back.
func TestPages(t *testing.T) {
	qpdf := testsupport.Need(t, "qpdf")
	pdftotext := testsupport.Need(t, "pdftotext")
	pdfinfo := testsupport.Need(t, "pdfinfo")
	regular, err := ParseTrueType(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	bold, err := ParseTrueType(gobold.TTF)
	if err != nil {
		t.Fatal(err)
	}
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	img, err := ParseJPEG(photo.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	const mm = 72 / 25.4
	texts := []string{"Første side Åse", "Druga strona Łódź", "Trečias puslapis Ėglė", "Fjerde side, skalert"}
	render := func() (*bytes.Buffer, []int) {
		out := &bytes.Buffer{}
		d := NewWriter(out, mm, Info{Title: "Sider", Created: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)})
		var before []int // bytes written once each page after the first has started
		for i, s := range texts {
			w, h := 101.6, 152.4
			if i == 3 {
				w, h = 210, 297
			}
			if err := d.AddPage(w, h); err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				before = append(before, out.Len())
			}
			f := regular
			if i%2 == 1 {
				f = bold
			}
			d.SetFont(f, 12)
			if i == 3 {
				d.Save()
				d.Transform(105, 148.5, 0.5)
				d.Text(20, 40, s)
				d.Link(20, 50, 40, 10, "https://example.com/p4")
				d.Restore()
				continue
			}
			d.Text(10, 20, s)
			if i != 1 {
				d.DrawImage(img, 10, 30, 20, 20)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		return out, before
	}
	out, before := render()
	b := out.Bytes()
	checkXref(t, b)
	// Page n's content stream (its text as glyph ids) is in the output before page n+1 starts.
	for i, n := range before {
		var hex strings.Builder
		f := regular
		if i%2 == 1 {
			f = bold
		}
		for _, r := range texts[i] {
			fmt.Fprintf(&hex, "%04X", f.glyph(r))
		}
		if !bytes.Contains(b[:n], []byte("<"+hex.String()+"> Tj")) {
			t.Errorf("page %d was not written before page %d started (%d bytes out)", i+1, i+2, n)
		}
	}
	if again, _ := render(); !bytes.Equal(b, again.Bytes()) {
		t.Error("the same pages make different bytes")
	}
	if n := bytes.Count(b, []byte("/Subtype /Image")); n != 1 {
		t.Errorf("image embedded %d times, want once", n)
	}
	if n := bytes.Count(b, []byte("/Subtype /Type0")); n != 2 {
		t.Errorf("%d Type 0 fonts, want 2 (each written once)", n)
	}
	// The link under the transform: x = 105 + 0.5·20 mm, y from the bottom = 297 − (148.5 + 0.5·60) mm.
	want := fmt.Sprintf("/Rect [%s %s %s %s]", appendNum(nil, 115*mm), appendNum(nil, (297-178.5)*mm),
		appendNum(nil, 135*mm), appendNum(nil, (297-173.5)*mm))
	if !bytes.Contains(b, []byte(want)) {
		t.Errorf("no link annotation with %s", want)
	}

	file := filepath.Join(t.TempDir(), "pages.pdf")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qpdf, "--check", file).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
	info, err := exec.Command(pdfinfo, "-f", "1", "-l", "4", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(string(info)), " ")
	for _, want := range []string{"Pages: 4", "Page 1 size: 288 x 432 pts", "Page 4 size: 595.276 x 841.89 pts (A4)"} {
		if !strings.Contains(got, want) {
			t.Errorf("pdfinfo lacks %q:\n%s", want, info)
		}
	}
	for i, s := range texts {
		p := strconv.Itoa(i + 1)
		text, err := exec.Command(pdftotext, "-f", p, "-l", p, file, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(text)); got != s {
			t.Errorf("page %d text %q, want %q", i+1, got, s)
		}
	}
	// The scaled text (bold, as every second page): set at 6 pt from x = 115 mm.
	boxes, err := exec.Command(pdftotext, "-bbox", "-f", "4", "-l", "4", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">Fjerde</word>`).FindStringSubmatch(string(boxes))
	if m == nil {
		t.Fatalf("no box for the scaled word:\n%s", boxes)
	}
	x0, _ := strconv.ParseFloat(m[1], 64)
	x1, _ := strconv.ParseFloat(m[3], 64)
	if math.Abs(x0-115*mm) > 0.01 || math.Abs(x1-x0-bold.Width("Fjerde", 6)) > 0.05 {
		t.Errorf("scaled word from %.3f, %.3f wide; want from %.3f, %.3f wide", x0, x1-x0, 115*mm, bold.Width("Fjerde", 6))
	}
}

// TestPageErrors: a Save left open on a page, a failing writer and a closed document are errors
// that stick, not broken files.
func TestPageErrors(t *testing.T) {
	d := NewWriter(io.Discard, 1, Info{})
	d.AddPage(100, 100)
	d.Save()
	if err := d.AddPage(100, 100); err == nil || !strings.Contains(err.Error(), "Save without Restore") {
		t.Errorf("AddPage after an open Save: %v", err)
	}
	if err := d.Close(); err == nil {
		t.Error("Close after an open Save succeeded")
	}

	d = NewWriter(failingWriter{}, 1, Info{})
	d.AddPage(100, 100)
	if err := d.AddPage(100, 100); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("AddPage onto a failing writer: %v", err)
	}
	if err := d.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close onto a failing writer: %v", err)
	}
	if err := d.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
	if err := NewWriter(io.Discard, 1, Info{}).Close(); err == nil {
		t.Error("a document without pages closed without an error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }
