package jpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	stdjpeg "image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// gradient is smooth in both directions and in colour.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(255 * x / max(w-1, 1)), uint8(255 * y / max(h-1, 1)), uint8(128 + 100*math.Sin(float64(x+y)/20)), 255})
		}
	}
	return img
}

// noise is the worst case for a DCT coder: every pixel independent.
func noise(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Uint32())
	}
	return img
}

// portrait draws what an ID photo looks like to an encoder: a light shaded background, a head
// with hair, eyes and mouth, shoulders, hard edges between them, and a little sensor noise.
func portrait(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	fw, fh := float64(w), float64(h)
	cx, cy := fw/2, fh*0.42
	rx, ry := fw*0.22, fh*0.2
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			shade := 1 - 0.15*fy/fh
			c := [3]float64{228 * shade, 230 * shade, 238 * shade}
			if sx, sy := (fx-cx)/(fw*0.48), (fy-fh*1.02)/(fh*0.36); sx*sx+sy*sy <= 1 {
				c = [3]float64{40 + 30*sx, 60, 110 - 20*sy} // shirt
			}
			if nx, ny := (fx-cx)/(rx*0.45), fy-(cy+ry*0.8); math.Abs(nx) <= 1 && ny >= 0 && ny <= fh*0.08 {
				c = [3]float64{200, 150, 100} // neck
			}
			hx, hy := (fx-cx)/(rx*1.08), (fy-(cy-ry*0.12))/(ry*1.05)
			if hx*hx+hy*hy <= 1 && fy < cy {
				c = [3]float64{70 + 20*math.Sin(fx/3), 50, 30} // hair, with strands
			}
			if ex, ey := (fx-cx)/rx, (fy-cy)/ry; ex*ex+ey*ey <= 1 && !(hx*hx+hy*hy <= 1 && fy < cy-ry*0.45) {
				l := 1 - 0.25*(ex*ex+ey*ey) // rounder towards the edge
				c = [3]float64{235 * l, 185 * l, 135 * l}
				for _, side := range []float64{-1, 1} {
					if dx, dy := fx-(cx+side*rx*0.4), fy-(cy-ry*0.1); dx*dx+dy*dy <= (rx*0.09)*(rx*0.09) {
						c = [3]float64{40, 40, 60}
					}
				}
				if mx, my := (fx-cx)/(rx*0.35), (fy-(cy+ry*0.45))/(ry*0.06); mx*mx+my*my <= 1 {
					c = [3]float64{170, 70, 70}
				}
			}
			n := rng.NormFloat64() * 3
			img.SetRGBA(x, y, color.RGBA{clampF(c[0] + n), clampF(c[1] + n), clampF(c[2] + n), 255})
		}
	}
	return img
}

func clampF(v float64) uint8 { return uint8(math.Round(min(max(v, 0), 255))) }

// toYCbCr converts img to a YCbCr image of the given ratio with the same bounds; each chroma
// sample is the mean of the pixels it covers.
func toYCbCr(img image.Image, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	r := img.Bounds()
	out := image.NewYCbCr(r, ratio)
	sum := make(map[int][3]int)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			yy, u, v := color.RGBToYCbCr(uint8(cr>>8), uint8(cg>>8), uint8(cb>>8))
			out.Y[out.YOffset(x, y)] = yy
			o := out.COffset(x, y)
			s := sum[o]
			sum[o] = [3]int{s[0] + int(u), s[1] + int(v), s[2] + 1}
		}
	}
	for o, s := range sum {
		out.Cb[o] = uint8((s[0] + s[2]/2) / s[2])
		out.Cr[o] = uint8((s[1] + s[2]/2) / s[2])
	}
	return out
}

// ycc returns the pixel at (x, y) in YCbCr, read without a round trip through RGB when the image
// is YCbCr.
func ycc(img image.Image, x, y int) [3]uint8 {
	if m, ok := img.(*image.YCbCr); ok {
		c := m.YCbCrAt(x, y)
		return [3]uint8{c.Y, c.Cb, c.Cr}
	}
	r, g, b, _ := img.At(x, y).RGBA()
	yy, cb, cr := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(b>>8))
	return [3]uint8{yy, cb, cr}
}

// psnr returns the peak signal-to-noise ratio of each YCbCr channel of got against want (same
// size, got's origin at 0,0), capped at 99 dB for an exact match.
func psnr(want, got image.Image) [3]float64 {
	wb := want.Bounds()
	var se [3]float64
	for y := 0; y < wb.Dy(); y++ {
		for x := 0; x < wb.Dx(); x++ {
			a, b := ycc(want, wb.Min.X+x, wb.Min.Y+y), ycc(got, x, y)
			for c := range 3 {
				d := float64(a[c]) - float64(b[c])
				se[c] += d * d
			}
		}
	}
	var p [3]float64
	for c := range 3 {
		mse := se[c] / float64(wb.Dx()*wb.Dy())
		p[c] = 99
		if mse > 0 {
			p[c] = min(10*math.Log10(255*255/mse), 99)
		}
	}
	return p
}

// compare encodes img with this package and with image/jpeg and checks ours decodes to the
// right size as 4:2:0, is as good (luma within 0.5 dB, chroma within 1 dB) and no more than
// about 10% larger.
func compare(t *testing.T, img image.Image, quality int) {
	t.Helper()
	var ours, std bytes.Buffer
	if err := Encode(&ours, img, quality); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if err := stdjpeg.Encode(&std, img, &stdjpeg.Options{Quality: quality}); err != nil {
		t.Fatalf("image/jpeg Encode: %v", err)
	}
	got, err := stdjpeg.Decode(bytes.NewReader(ours.Bytes()))
	if err != nil {
		t.Fatalf("image/jpeg cannot decode our output: %v", err)
	}
	stdGot, err := stdjpeg.Decode(bytes.NewReader(std.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, gray := img.(*image.Gray); gray {
		if _, ok := got.(*image.Gray); !ok {
			t.Fatalf("decoded as %T, want *image.Gray", got)
		}
	} else if ycc, ok := got.(*image.YCbCr); !ok || ycc.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		t.Fatalf("decoded as %T, want *image.YCbCr 4:2:0", got)
	}
	if g, w := got.Bounds(), img.Bounds(); g.Dx() != w.Dx() || g.Dy() != w.Dy() {
		t.Fatalf("decoded size %v, want %v", g.Size(), w.Size())
	}
	p, sp := psnr(img, got), psnr(img, stdGot)
	// Above 50 dB (an RMS error under 0.8 of a level) what is left is mostly the decoder's own
	// rounding, so the two encoders' figures differ by chance: there 1 dB is allowed.
	if p[0] < sp[0]-0.5 && !(sp[0] >= 50 && p[0] >= sp[0]-1) {
		t.Errorf("luma PSNR %.2f dB, image/jpeg gets %.2f dB", p[0], sp[0])
	}
	// A chroma plane smaller than one block is a handful of samples, where one coefficient
	// rounded the other way moves PSNR by more than a decibel; such planes are not compared.
	if b := img.Bounds(); (b.Dx()+1)/2*((b.Dy()+1)/2) >= 64 && (p[1] < sp[1]-1 || p[2] < sp[2]-1) {
		t.Errorf("chroma PSNR Cb %.2f Cr %.2f dB, image/jpeg gets %.2f %.2f dB", p[1], p[2], sp[1], sp[2])
	}
	if testing.Verbose() {
		t.Logf("PSNR Y/Cb/Cr %.2f/%.2f/%.2f dB, %d bytes; image/jpeg %.2f/%.2f/%.2f dB, %d bytes",
			p[0], p[1], p[2], ours.Len(), sp[0], sp[1], sp[2], std.Len())
	}
	// 18 bytes of slack: image/jpeg writes no JFIF APP0 segment.
	if n, sn := ours.Len(), std.Len(); float64(n) > 1.1*float64(sn)+18 {
		t.Errorf("%d bytes, image/jpeg writes %d", n, sn)
	}
}

func TestMatchesStdlib(t *testing.T) {
	images := []struct {
		name string
		draw func(w, h int) *image.RGBA
	}{{"gradient", gradient}, {"noise", noise}, {"portrait", portrait}}
	sizes := []image.Point{{1, 1}, {7, 9}, {17, 33}, {64, 48}, {260, 331}}
	for _, im := range images {
		for _, sz := range sizes {
			rgba := im.draw(sz.X, sz.Y)
			for _, input := range []struct {
				kind string
				img  image.Image
			}{{"rgba", rgba}, {"ycbcr420", toYCbCr(rgba, image.YCbCrSubsampleRatio420)}} {
				for _, q := range []int{1, 50, 75, 90, 100} {
					t.Run(fmt.Sprintf("%s/%dx%d/%s/q%d", im.name, sz.X, sz.Y, input.kind, q), func(t *testing.T) {
						compare(t, input.img, q)
					})
				}
			}
		}
	}
}

// TestOddInputs covers origins away from 0,0, the other chroma ratios, and images that take the
// generic path.
func TestOddInputs(t *testing.T) {
	base := portrait(40, 30)
	moved := image.NewRGBA(image.Rect(-3, 5, 37, 35))
	copy(moved.Pix, base.Pix)
	ycc := toYCbCr(portrait(41, 31), image.YCbCrSubsampleRatio420)
	gray := image.NewGray(image.Rect(0, 0, 23, 19))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	pal := image.NewPaletted(image.Rect(2, 3, 30, 20), palette.Plan9)
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i / 5)
	}
	nrgba := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	copy(nrgba.Pix, noise(20, 20).Pix)
	cases := map[string]image.Image{
		"rgba negative origin":  moved,
		"rgba sub-image":        base.SubImage(image.Rect(3, 5, 30, 28)),
		"ycbcr420 even origin":  ycc.SubImage(image.Rect(4, 6, 40, 31)),
		"ycbcr420 odd origin":   ycc.SubImage(image.Rect(3, 5, 38, 30)),
		"ycbcr420 odd x origin": ycc.SubImage(image.Rect(1, 2, 38, 30)),
		"gray":                  gray,
		"paletted":              pal,
		"nrgba":                 nrgba,
	}
	for _, r := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440,
		image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		m := toYCbCr(portrait(33, 21), r)
		cases["ycbcr"+r.String()] = m
		cases["ycbcr"+r.String()+" odd origin"] = m.SubImage(image.Rect(1, 3, 30, 20))
	}
	for name, img := range cases {
		t.Run(name, func(t *testing.T) {
			for _, q := range []int{50, 90} {
				compare(t, img, q)
			}
		})
	}
}

// TestHeadersMatchStdlib checks the tables we wrote from the spec against the ones image/jpeg
// writes: DQT (the IJG quality scaling) at every quality, and DHT.
func TestHeadersMatchStdlib(t *testing.T) {
	img := portrait(17, 9)
	segment := func(b []byte, marker byte) []byte {
		i := bytes.Index(b, []byte{0xFF, marker})
		if i < 0 || i+4 > len(b) {
			t.Fatalf("no %#x segment", marker)
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		return b[i : i+2+n]
	}
	for q := 1; q <= 100; q++ {
		var ours, std bytes.Buffer
		if err := Encode(&ours, img, q); err != nil {
			t.Fatal(err)
		}
		if err := stdjpeg.Encode(&std, img, &stdjpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(segment(ours.Bytes(), 0xDB), segment(std.Bytes(), 0xDB)) {
			t.Errorf("quality %d: DQT\n%x\nimage/jpeg writes\n%x", q, segment(ours.Bytes(), 0xDB), segment(std.Bytes(), 0xDB))
		}
		if q == 1 && !bytes.Equal(segment(ours.Bytes(), 0xC4), segment(std.Bytes(), 0xC4)) {
			t.Errorf("DHT\n%x\nimage/jpeg writes\n%x", segment(ours.Bytes(), 0xC4), segment(std.Bytes(), 0xC4))
		}
	}
}

// TestEveryQualityDecodes: image/jpeg reads our output at every quality, and quality buys
// fidelity.
func TestEveryQualityDecodes(t *testing.T) {
	img := portrait(37, 45)
	var e Encoder // reused, so the cached tables must follow the quality
	prev := 0.0
	for q := 1; q <= 100; q++ {
		var buf bytes.Buffer
		if err := e.Encode(&buf, img, q); err != nil {
			t.Fatalf("quality %d: %v", q, err)
		}
		got, err := stdjpeg.Decode(&buf)
		if err != nil {
			t.Fatalf("quality %d: decode: %v", q, err)
		}
		p := psnr(img, got)[0]
		if q >= 10 && p < prev-1 { // small steps of quality may round to the same tables
			t.Errorf("quality %d: luma PSNR %.2f dB, below quality %d's %.2f", q, p, q-1, prev)
		}
		prev = p
	}
	if prev < 40 {
		t.Errorf("quality 100: luma PSNR %.2f dB, want at least 40", prev)
	}
}

// TestRejects: what cannot be encoded is an error, never a panic.
func TestRejects(t *testing.T) {
	short := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
	short.Y = short.Y[:100]
	shortC := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
	shortC.Cr = shortC.Cr[:10]
	shortC444 := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio444)
	shortC444.Cb = shortC444.Cb[:10]
	shortRGBA := image.NewRGBA(image.Rect(0, 0, 16, 16))
	shortRGBA.Pix = shortRGBA.Pix[:100]
	cases := []struct {
		name    string
		img     image.Image
		quality int
		want    string
	}{
		{"zero width", image.NewRGBA(image.Rect(0, 0, 0, 5)), 90, "empty"},
		{"zero height", image.NewRGBA(image.Rect(3, 3, 9, 3)), 90, "empty"},
		{"zero value ycbcr", &image.YCbCr{}, 90, "empty"},
		{"inverted rectangle", &image.RGBA{Rect: image.Rectangle{Min: image.Pt(5, 5), Max: image.Pt(1, 1)}}, 90, "empty"},
		{"too wide", image.NewGray(image.Rect(0, 0, MaxSize+1, 1)), 90, "at most"},
		{"too tall", image.NewGray(image.Rect(0, 0, 1, MaxSize+1)), 90, "at most"},
		{"quality 0", portrait(8, 8), 0, "quality"},
		{"quality 101", portrait(8, 8), 101, "quality"},
		{"short luma", short, 90, "shorter"},
		{"short chroma", shortC, 90, "shorter"},
		{"short chroma 4:4:4", shortC444, 90, "shorter"},
		{"short pixels", shortRGBA, 90, "shorter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, c.img, c.quality)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one saying %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes on error", buf.Len())
			}
		})
	}
}

func TestReusedEncoderAllocatesNothing(t *testing.T) {
	img := testPhoto(t)
	var e Encoder
	if err := e.Encode(io.Discard, img, 90); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10, func() { _ = e.Encode(io.Discard, img, 90) }); n != 0 {
		t.Errorf("%v allocations per encode", n)
	}
}

// testPhoto is a realistic stored photo: the drawn portrait at the card's 260×331, through a
// JPEG round trip as an upload would be, so 4:2:0 with JPEG's own artefacts.
func testPhoto(tb testing.TB) *image.YCbCr {
	tb.Helper()
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, portrait(260, 331), &stdjpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	img, err := stdjpeg.Decode(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	return img.(*image.YCbCr)
}

// TestPhotoFigures checks the benchmark's photo at the line's quality and logs what it costs in
// bytes and PSNR, ours against image/jpeg.
func TestPhotoFigures(t *testing.T) {
	img := testPhoto(t)
	compare(t, img, 90)
	var ours, std bytes.Buffer
	if err := Encode(&ours, img, 90); err != nil {
		t.Fatal(err)
	}
	if err := stdjpeg.Encode(&std, img, &stdjpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	n, sn := ours.Len(), std.Len()
	o, err := stdjpeg.Decode(&ours)
	if err != nil {
		t.Fatal(err)
	}
	s, err := stdjpeg.Decode(&std)
	if err != nil {
		t.Fatal(err)
	}
	p, sp := psnr(img, o), psnr(img, s)
	t.Logf("ours: %d bytes, PSNR Y/Cb/Cr %.2f/%.2f/%.2f dB; image/jpeg: %d bytes, %.2f/%.2f/%.2f dB",
		n, p[0], p[1], p[2], sn, sp[0], sp[1], sp[2])
}

func BenchmarkEncodePhoto(b *testing.B) {
	img := testPhoto(b)
	var e Encoder
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Encode(io.Discard, img, 90); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(e.buf)), "bytes/photo")
}

func BenchmarkEncodePhotoRGBA(b *testing.B) {
	img := portrait(260, 331)
	var e Encoder
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Encode(io.Discard, img, 90); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdlibEncodePhoto(b *testing.B) {
	img := testPhoto(b)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/photo")
}
