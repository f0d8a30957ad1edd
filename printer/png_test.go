package printer

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"
)

// TestEncodePNGRoundTrip decodes what EncodePNG wrote with the standard library's decoder and
// compares every pixel: flat areas (long runs), noise (all literals) and runs of every length
// around the deflate length-code boundaries.
func TestEncodePNGRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := image.NewRGBA(image.Rect(0, 0, 97, 31))
	for i := range noise.Pix {
		noise.Pix[i] = byte(rng.IntN(256))
	}
	runs := image.NewRGBA(image.Rect(0, 0, 700, 40))
	x := 0
	for n := 1; x < 700*40; n++ { // runs of length 1, 2, 3, …: every length code is used
		c := color.RGBA{byte(n), byte(n * 7), byte(n * 13), 0xff}
		for k := 0; k < n%300 && x < 700*40; k, x = k+1, x+1 {
			runs.SetRGBA(x%700, x/700, c)
		}
	}
	flat := image.NewRGBA(image.Rect(0, 0, 50, 50))   // every row repeats the first
	wide := image.NewRGBA(image.Rect(0, 0, 11000, 3)) // rows longer than deflate's window
	for i := range wide.Pix {
		wide.Pix[i] = byte(i / 4 % 7)
	}
	front, back := testFaces(t, SampleFace(Construction))
	for name, img := range map[string]*image.RGBA{"noise": noise, "runs": runs, "flat": flat, "wide": wide, "front": front, "back": back, "offset": front.SubImage(image.Rect(10, 20, 300, 200)).(*image.RGBA)} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodePNG(&buf, img); err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("image/png cannot decode our PNG: %v", err)
			}
			b := img.Bounds()
			if got.Bounds().Dx() != b.Dx() || got.Bounds().Dy() != b.Dy() {
				t.Fatalf("size %v, want %v", got.Bounds(), b)
			}
			for y := 0; y < b.Dy(); y++ {
				for x := 0; x < b.Dx(); x++ {
					w := img.RGBAAt(b.Min.X+x, b.Min.Y+y)
					r, g, bl, _ := got.At(x, y).RGBA()
					if byte(r>>8) != w.R || byte(g>>8) != w.G || byte(bl>>8) != w.B {
						t.Fatalf("pixel (%d,%d) = %d,%d,%d, want %v", x, y, r>>8, g>>8, bl>>8, w)
					}
				}
			}
		})
	}
}

func TestEncodePNGRecords300DPI(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodePNG(&buf, image.NewRGBA(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	// pHYs: length 9, type, 11811 px/m twice, unit 1 (metre).
	want := []byte("\x00\x00\x00\x09pHYs\x00\x00\x2e\x23\x00\x00\x2e\x23\x01")
	if !bytes.Contains(buf.Bytes(), want) {
		t.Fatalf("no pHYs chunk for 300 dpi in % x", buf.Bytes()[:64])
	}
}
