package printer

import (
	"bytes"
	"image"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// A cached glyph is the same pixels, at the same place, as the face rasterises afresh, wherever
// the pen stands (whole and fractional pixels, negative too), on first use and from the cache.
func TestCachedFaceGlyphs(t *testing.T) {
	fs, err := loadFonts()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := opentype.NewFace(fs.bold, &opentype.FaceOptions{Size: 40, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		t.Fatal(err)
	}
	cached := fs.face(true, 40)
	if _, ok := cached.(*cachedFace); !ok {
		t.Fatalf("fonts.face gives %T, want a *cachedFace", cached)
	}
	dots := []fixed.Point26_6{{X: 0, Y: 0}, {X: 13, Y: 0}, {X: 64*100 + 13, Y: 64 * 37}, {X: -64*3 + 40, Y: -64*2 - 5}, {X: 64*511 + 63, Y: 64*99 + 1}}
	for pass := range 2 {
		for _, r := range "AÅŽśgj…Ø " + "\uFFFF" {
			for _, dot := range dots {
				wdr, wmask, wmp, wadv, wok := raw.Glyph(dot, r)
				var want []byte
				if wok {
					want = alphaUnder(wmask, wdr, wmp)
				}
				dr, mask, mp, adv, ok := cached.Glyph(dot, r)
				if ok != wok || dr != wdr || adv != wadv {
					t.Fatalf("pass %d %q at %v: got %v %v %v, want %v %v %v", pass, r, dot, dr, adv, ok, wdr, wadv, wok)
				}
				if ok && !bytes.Equal(alphaUnder(mask, dr, mp), want) {
					t.Fatalf("pass %d %q at %v: the mask differs from the face's", pass, r, dot)
				}
			}
		}
	}
}

// alphaUnder is the mask's coverage over dr, row by row.
func alphaUnder(mask image.Image, dr image.Rectangle, mp image.Point) []byte {
	var out []byte
	for y := range dr.Dy() {
		for x := range dr.Dx() {
			_, _, _, a := mask.At(mp.X+x, mp.Y+y).RGBA()
			out = append(out, byte(a>>8))
		}
	}
	return out
}
