package printer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

var testSeed = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

const testBase = "https://status.hms.example/k"

func testRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := NewRenderer(Options{StatusBaseURL: testBase, SigningKey: ed25519.NewKeyFromSeed(testSeed[:])})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testFaces(t testing.TB, f *Face) (front, back *image.RGBA) {
	t.Helper()
	front, back, err := testRenderer(t).Render(f)
	if err != nil {
		t.Fatal(err)
	}
	return front, back
}

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata/golden")

// hardNames are the names the issue calls out, and worse.
var hardNames = []struct{ name, given, family string }{
	{"long", "Maria Concepción Anna-Katharina Żaneta", "Wolfeschlegelsteinhausenbergerdorff-Grzegorzewska-Kazlauskienė-Ødegård-Åsheim Van Der Berg"},
	{"norwegian", "Øyvind", "Ødegård-Åsheim"},
	{"polish", "Łukasz", "Wiśniewski"},
	{"lithuanian", "Žydrūnė", "Šimkutė"},
	{"decomposed", "Z\u030cydru\u0304ne\u0307", "S\u030cimkute\u0307"}, // NFD: drawn as NFC
	{"one long word", strings.Repeat("Å", 100), strings.Repeat("W", 100)},
	{"combining marks", strings.Repeat("\u0301\u0308", 30), strings.Repeat("\u0338", 60)},
}

// TestHardNamesStayInTheirBoxes renders each hard name and checks, pixel by pixel, that nothing
// outside the two name boxes differs from a card with a short name: long names shrink or wrap
// inside their boxes and never spill onto the photo, the employer or the band.
func TestHardNamesStayInTheirBoxes(t *testing.T) {
	r := testRenderer(t)
	ref := SampleFace(Construction)
	ref.GivenName, ref.FamilyName = "A", "B"
	refFront, _, err := r.Render(ref)
	if err != nil {
		t.Fatal(err)
	}
	boxes := []image.Rectangle{r.lay.family.r, r.lay.given.r}
	for _, c := range hardNames {
		t.Run(c.name, func(t *testing.T) {
			f := SampleFace(Construction)
			f.GivenName, f.FamilyName = c.given, c.family
			err := f.Validate()
			if c.name == "combining marks" {
				if !errors.Is(err, ErrInvalidFace) {
					t.Fatalf("a name of combining marks only was accepted: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			front := NewFace()
			r.mu.Lock()
			r.drawFront(front, f) // draw even what Validate refuses: layout must hold anyway
			r.mu.Unlock()
			inked := 0
			for y := 0; y < FaceHeight; y++ {
				for x := 0; x < FaceWidth; x++ {
					p := image.Pt(x, y)
					inBox := p.In(boxes[0]) || p.In(boxes[1])
					if front.RGBAAt(x, y) != refFront.RGBAAt(x, y) {
						if !inBox {
							t.Fatalf("pixel %v outside the name boxes changed", p)
						}
						inked++
					}
				}
			}
			if c.name != "combining marks" && inked < 500 {
				t.Errorf("only %d pixels of name drawn", inked)
			}
		})
	}
}

// TestNamesFitWithoutLoss: names up to the limit are set whole (no ellipsis) in both boxes, every
// line within the box's width and the lines within its height.
func TestNamesFitWithoutLoss(t *testing.T) {
	fs, err := loadFonts()
	if err != nil {
		t.Fatal(err)
	}
	l := newLayout()
	long := ""
	for len([]rune(long)) < MaxNameRunes-10 {
		long += "Wiśniewska-Kazlauskienė "
	}
	long = strings.TrimSpace(long)
	for _, c := range []struct {
		box  textBox
		text string
	}{
		{l.family, long}, {l.given, long}, {l.family, hardNames[0].family}, {l.given, hardNames[0].given},
		{l.employer, "Anleggsgartner Åsheim og Sønner og Trøndelag Betong og Stillas Aksjeselskap Avdeling Nord-Norge Øst"},
		{l.employer, strings.TrimSpace(string([]rune(strings.Repeat("Ødegård Bygg ", 10))[:MaxOrgNameRunes]))}, // the longest allowed
	} {
		if n := len([]rune(c.text)); n > MaxOrgNameRunes {
			t.Fatalf("test text is %d runes", n)
		}
		fc, lines := c.box.layout(fs, c.text)
		joined := strings.Join(lines, " ")
		if strings.Contains(joined, "…") || strings.ReplaceAll(joined, "- ", "-") != c.text {
			t.Errorf("%q set as %q: text lost", c.text, lines)
		}
		if len(lines)*lineHeight(fc) > c.box.r.Dy() || len(lines) > c.box.maxLines {
			t.Errorf("%q: %d lines of %d px in a %d px box", c.text, len(lines), lineHeight(fc), c.box.r.Dy())
		}
		for _, l := range lines {
			if w := font.MeasureString(fc, l); w > fixed.I(c.box.r.Dx()) {
				t.Errorf("line %q is %d px wide in a %d px box", l, w.Ceil(), c.box.r.Dx())
			}
		}
	}
}

// TestEuropeanLettersHaveGlyphs: every letter of the Latin, Greek and Cyrillic alphabets of
// Europe is in both embedded fonts: Latin-1 and Latin Extended-A, Romanian Ș and Ț, Greek and
// Cyrillic. (Most of Latin Extended-B is African and phonetic letters, which the Go fonts lack.)
func TestEuropeanLettersHaveGlyphs(t *testing.T) {
	fs, err := loadFonts()
	if err != nil {
		t.Fatal(err)
	}
	ranges := [][2]rune{{0x00C0, 0x017F}, {0x0218, 0x021B}, {0x0386, 0x03CE}, {0x0400, 0x045F}}
	var buf sfnt.Buffer
	missing := 0
	for _, rg := range ranges {
		for r := rg[0]; r <= rg[1]; r++ {
			if !unicode.IsLetter(r) {
				continue
			}
			for _, f := range []*sfnt.Font{fs.regular, fs.bold} {
				if gi, err := f.GlyphIndex(&buf, r); err != nil || gi == 0 {
					missing++
					if missing < 20 {
						t.Errorf("no glyph for %c U+%04X", r, r)
					}
				}
			}
		}
	}
}

// TestGoldenFaces guards the layout: the rendered faces must equal the PNGs in testdata/golden
// pixel for pixel, and two renderers give the same PNG bytes (rendering is deterministic). Run with -update after an intended change, and look
// at the new images before committing them.
func TestGoldenFaces(t *testing.T) {
	cases := map[string]*Face{}
	for _, ct := range []CardType{Construction, Cleaning, Transport} {
		cases[string(ct)] = SampleFace(ct)
	}
	long := SampleFace(Cleaning)
	long.GivenName, long.FamilyName = hardNames[0].given, hardNames[0].family
	long.OrgName = "Anleggsgartner Åsheim og Sønner og Trøndelag Betong og Stillas Aksjeselskap Avdeling Nord-Norge Øst"
	cases["long-names"] = long
	for name, f := range cases {
		front, back := testFaces(t, f)
		again, _ := testFaces(t, f) // a second renderer: same bytes
		for side, img := range map[string]*image.RGBA{"front": front, "back": back} {
			if side == "back" && name == "long-names" {
				continue
			}
			var buf bytes.Buffer
			if err := EncodePNG(&buf, img); err != nil {
				t.Fatal(err)
			}
			if side == "front" {
				var b2 bytes.Buffer
				if err := EncodePNG(&b2, again); err != nil || !bytes.Equal(buf.Bytes(), b2.Bytes()) {
					t.Errorf("%s: two renders differ", name)
				}
			}
			p := filepath.Join("testdata", "golden", name+"-"+side+".png")
			if *update {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenFaces -update)", err)
			}
			// Pixels, not PNG bytes, so that a change of encoder does not pass for a layout change.
			wantImg, err := png.Decode(bytes.NewReader(want))
			if err != nil {
				t.Fatal(err)
			}
			if !samePixels(img, wantImg) {
				got := filepath.Join(t.TempDir(), name+"-"+side+".png")
				_ = os.WriteFile(got, buf.Bytes(), 0o644)
				t.Errorf("%s differs from the golden image; the new render is %s", p, got)
			}
		}
	}
}

func samePixels(a *image.RGBA, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			r, g, bl, _ := b.At(x, y).RGBA()
			c := a.RGBAAt(x, y)
			if byte(r>>8) != c.R || byte(g>>8) != c.G || byte(bl>>8) != c.B {
				return false
			}
		}
	}
	return true
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Face)
	}{
		{"card type", func(f *Face) { f.CardType = "plumbing" }},
		{"card number", func(f *Face) { f.CardNumber = "12345" }},
		{"org number", func(f *Face) { f.OrgNumber = "92360901X" }},
		{"empty family name", func(f *Face) { f.FamilyName = "  " }},
		{"too long", func(f *Face) { f.GivenName = strings.Repeat("å", MaxNameRunes+1) }},
		{"control", func(f *Face) { f.OrgName = "Bygg\x07 AS" }},
		{"bad utf-8", func(f *Face) { f.GivenName = "\xff" }},
		{"a letter the font lacks", func(f *Face) { f.FamilyName = "Nguyễn" }},
		{"a script the font lacks", func(f *Face) { f.OrgName = "בניין בע״מ" }},
		{"no photo", func(f *Face) { f.Photo = nil }},
		{"no expiry", func(f *Face) { f.Expiry = time.Time{} }},
	} {
		f := SampleFace(Transport)
		c.edit(f)
		if err := f.Validate(); !errors.Is(err, ErrInvalidFace) {
			t.Errorf("%s: Validate = %v", c.name, err)
		}
	}
	if err := SampleFace(Transport).Validate(); err != nil {
		t.Errorf("sample: %v", err)
	}
}

// TestPhotoIsCroppedNotStretched: a wide photo of a circle stays a circle in the box.
func TestPhotoIsCroppedNotStretched(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 1200, 600))
	for y := 0; y < 600; y++ {
		for x := 0; x < 1200; x++ {
			c := color.RGBA{0xff, 0xff, 0xff, 0xff}
			if (x-600)*(x-600)+(y-300)*(y-300) < 200*200 {
				c = color.RGBA{0, 0, 0, 0xff}
			}
			src.SetRGBA(x, y, c)
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	photoBox := newLayout().photo
	drawPhoto(dst, photoBox, src)
	// The circle's width and height on the card must match within a pixel or two.
	minX, maxX, minY, maxY := FaceWidth, 0, FaceHeight, 0
	for y := photoBox.Min.Y; y < photoBox.Max.Y; y++ {
		for x := photoBox.Min.X; x < photoBox.Max.X; x++ {
			if dst.RGBAAt(x, y).R < 128 {
				minX, maxX, minY, maxY = min(minX, x), max(maxX, x), min(minY, y), max(maxY, y)
			}
		}
	}
	w, h := maxX-minX, maxY-minY
	if w < 50 || h < 50 || w-h > 2 || h-w > 2 {
		t.Errorf("circle drawn %d×%d px: stretched", w, h)
	}
}

// TestScaleAreaSources: the fast paths for JPEG's YCbCr (every subsampling) and for RGBA, at
// any origin, agree with the generic path (the standard library's conversion, then averaging)
// within rounding.
func TestScaleAreaSources(t *testing.T) {
	base := SamplePortrait(300, 400)
	check := func(name string, src image.Image, tol int) {
		t.Helper()
		want := image.NewRGBA(image.Rect(0, 0, 60, 80))
		scaleArea(want, want.Rect, struct{ image.Image }{src}, src.Bounds()) // hides the type: generic path
		got := image.NewRGBA(want.Rect)
		scaleArea(got, got.Rect, src, src.Bounds())
		worst := 0
		for i := range got.Pix {
			d := int(got.Pix[i]) - int(want.Pix[i])
			worst = max(worst, d, -d)
		}
		if worst > tol {
			t.Errorf("%s: differs from the generic path by up to %d", name, worst)
		}
	}
	check("rgba", base, 0)
	shifted := image.NewRGBA(image.Rect(7, 9, 307, 409))
	draw.Draw(shifted, shifted.Rect, base, image.Point{}, draw.Src)
	check("rgba at an offset", shifted, 0)
	for _, r := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		y := image.NewYCbCr(image.Rect(3, 5, 303, 405), r)
		for py := 0; py < 400; py++ {
			for px := 0; px < 300; px++ {
				c := base.RGBAAt(px, py)
				yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
				y.Y[y.YOffset(px+3, py+5)] = yy
				y.Cb[y.COffset(px+3, py+5)] = cb
				y.Cr[y.COffset(px+3, py+5)] = cr
			}
		}
		check(r.String(), y, 3) // averaging before or after the colour conversion: rounding only
	}
}

// TestFitPhoto: a fitted photo is the box's size and prints the same as the original.
func TestFitPhoto(t *testing.T) {
	orig := SamplePortrait(600, 800)
	fit := FitPhoto(orig)
	if fit.Bounds().Size() != PhotoSize() || PhotoSize() != image.Pt(260, 331) {
		t.Fatalf("fitted photo is %v, box %v", fit.Bounds().Size(), PhotoSize())
	}
	a := image.NewRGBA(image.Rect(0, 0, FaceWidth, FaceHeight))
	b := image.NewRGBA(a.Rect)
	photoBox := newLayout().photo
	drawPhoto(a, photoBox, orig)
	drawPhoto(b, photoBox, fit)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("the fitted photo prints differently")
	}
}

// TestFitPhotoYCbCr: fitting a decoded JPEG plane by plane gives the picture FitPhoto gives
// (within rounding and chroma siting), for the subsamplings uploads come in and odd crops.
func TestFitPhotoYCbCr(t *testing.T) {
	for _, c := range []struct {
		w, h  int
		ratio image.YCbCrSubsampleRatio
	}{
		{300, 400, image.YCbCrSubsampleRatio420},
		{601, 799, image.YCbCrSubsampleRatio420},
		{1200, 1300, image.YCbCrSubsampleRatio444}, // wider than the box: cropped at the sides
		{500, 1000, image.YCbCrSubsampleRatio422},  // taller: cropped top and bottom
	} {
		rgba := SamplePortrait(c.w, c.h)
		src := image.NewYCbCr(rgba.Rect, c.ratio)
		for y := range c.h {
			for x := range c.w {
				p := rgba.RGBAAt(x, y)
				yy, cb, cr := color.RGBToYCbCr(p.R, p.G, p.B)
				src.Y[src.YOffset(x, y)] = yy
				src.Cb[src.COffset(x, y)], src.Cr[src.COffset(x, y)] = cb, cr // last pixel of a chroma block wins: fine for a smooth portrait
			}
		}
		got := FitPhotoYCbCr(src)
		if got.Rect.Size() != PhotoSize() || got.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			t.Fatalf("%dx%d: fitted %v %v", c.w, c.h, got.Rect, got.SubsampleRatio)
		}
		want := FitPhoto(src)
		var diff, n float64
		for y := range want.Rect.Dy() {
			for x := range want.Rect.Dx() {
				r, g, b, _ := got.At(x, y).RGBA()
				w := want.RGBAAt(x, y)
				diff += math.Abs(float64(r>>8)-float64(w.R)) + math.Abs(float64(g>>8)-float64(w.G)) + math.Abs(float64(b>>8)-float64(w.B))
				n += 3
			}
		}
		if mean := diff / n; mean > 1 {
			t.Errorf("%dx%d %v: mean difference %.2f levels from FitPhoto", c.w, c.h, c.ratio, mean)
		}
	}
}

// TestRenderIntoReusesImages: rendering a second card into the same images leaves nothing of the
// first (every pixel is drawn), and equals rendering it afresh.
func TestRenderIntoReusesImages(t *testing.T) {
	r := testRenderer(t)
	front, back := NewFace(), NewFace()
	long := SampleFace(Cleaning)
	long.GivenName, long.FamilyName = hardNames[0].given, hardNames[0].family
	if err := r.RenderInto(long, front, back); err != nil {
		t.Fatal(err)
	}
	short := SampleFace(Transport)
	if err := r.RenderInto(short, front, back); err != nil {
		t.Fatal(err)
	}
	wantFront, wantBack, err := r.Render(short)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(front.Pix, wantFront.Pix) || !bytes.Equal(back.Pix, wantBack.Pix) {
		t.Error("a reused image keeps pixels of the previous card")
	}
	if err := r.RenderInto(short, front, front); err == nil {
		t.Error("RenderInto accepted the same image for both sides")
	}
	if err := r.RenderInto(short, front, image.NewRGBA(image.Rect(0, 0, 10, 10))); err == nil {
		t.Error("RenderInto accepted a small image")
	}
}
