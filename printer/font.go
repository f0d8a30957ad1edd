package printer

import (
	"fmt"
	"image"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// The card faces are set in the Go fonts (Bigelow & Holmes, BSD licence: FONT-LICENSE in this
// directory must travel with any binary that embeds them). They are compiled into the binary, so
// a card renders the same on every machine, and they cover Latin-1, Latin Extended-A, Greek and
// Cyrillic: every letter of a European name.

// fonts holds the parsed fonts and the faces made from them. Faces are not safe for concurrent
// use, so a fonts value belongs to one Renderer and is used under its lock.
type fonts struct {
	regular, bold *opentype.Font
	faces         map[faceKey]font.Face
}

type faceKey struct {
	bold bool
	px   int
}

// cardFonts are the two fonts parsed once for Unprintable: compiled-in constant data, the same
// for every Renderer.
var cardFonts = sync.OnceValues(func() ([2]*opentype.Font, error) {
	f, err := loadFonts()
	if err != nil {
		return [2]*opentype.Font{}, err
	}
	return [2]*opentype.Font{f.regular, f.bold}, nil
})

// Unprintable returns the first character of s that the card cannot show, and true; or false
// when the fonts have a glyph for every character, regular and bold. Such a character would be
// drawn as an empty box, and the card would carry a name other than the holder's: Vietnamese
// letters such as ễ and ư, Azerbaijani ə, a combining mark that NFC cannot fold into its letter,
// and every script beyond Latin, Greek and Cyrillic. Check text in NFC, as it is printed.
func Unprintable(s string) (rune, bool) {
	fs, err := cardFonts()
	if err != nil {
		return 0, false // the compiled-in fonts always parse (TestEuropeanLettersHaveGlyphs)
	}
	var buf sfnt.Buffer
	for _, r := range s {
		for _, f := range fs {
			if gi, err := f.GlyphIndex(&buf, r); err != nil || gi == 0 {
				return r, true
			}
		}
	}
	return 0, false
}

func loadFonts() (*fonts, error) {
	reg, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go regular font: %w", err)
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go bold font: %w", err)
	}
	return &fonts{regular: reg, bold: bold, faces: map[faceKey]font.Face{}}, nil
}

// face returns the face of the given pixel size (the em size at 300 dpi). Hinting is off so that
// text measures the same at every size and the fitting loop is monotonic.
func (f *fonts) face(bold bool, px int) font.Face {
	k := faceKey{bold, px}
	if fc, ok := f.faces[k]; ok {
		return fc
	}
	src := f.regular
	if bold {
		src = f.bold
	}
	fc, err := opentype.NewFace(src, &opentype.FaceOptions{Size: float64(px), DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		// Only a size the font cannot scale to fails; sizes here are fixed small integers.
		panic(fmt.Sprintf("printer: make %d px face: %v", px, err))
	}
	cf := &cachedFace{Face: fc, masks: map[glyphKey]cachedGlyph{}}
	f.faces[k] = cf
	return cf
}

// maxCachedGlyphs bounds a face's glyph cache (about 2 kB a glyph at card sizes); a full cache is
// emptied and fills again with what the cards in hand use.
const maxCachedGlyphs = 4096

// A cachedFace keeps the masks its glyphs were rasterised into. A card's text is a few dozen
// letters set at a few sizes, so most glyphs recur from card to card, and rasterising a glyph
// costs as much as compositing it. A glyph's mask depends only on the fractional part of the
// pen position (the rasteriser works relative to the pixel it starts in), which is therefore part
// of the key: cached and fresh glyphs are the same pixels.
type cachedFace struct {
	font.Face
	masks map[glyphKey]cachedGlyph
}

type glyphKey struct {
	r      rune
	fx, fy fixed.Int26_6 // the pen's fractional position, 0…63
}

type cachedGlyph struct {
	dr      image.Rectangle // relative to the pen's whole pixel
	mask    *image.Alpha
	maskp   image.Point
	advance fixed.Int26_6
	ok      bool
}

// Glyph is font.Face's Glyph through the cache. The mask returned is the cache's own and must not
// be changed; font.Drawer only reads it.
func (f *cachedFace) Glyph(dot fixed.Point26_6, r rune) (image.Rectangle, image.Image, image.Point, fixed.Int26_6, bool) {
	k := glyphKey{r, dot.X & 63, dot.Y & 63}
	whole := image.Pt(dot.X.Floor(), dot.Y.Floor())
	g, ok := f.masks[k]
	if !ok {
		dr, mask, maskp, adv, gok := f.Face.Glyph(fixed.Point26_6{X: k.fx, Y: k.fy}, r)
		g = cachedGlyph{dr: dr, maskp: maskp, advance: adv, ok: gok}
		if gok {
			// The face reuses its mask buffer for the next glyph: keep a copy.
			a, isAlpha := mask.(*image.Alpha)
			if !isAlpha {
				return dr.Add(whole), mask, maskp, adv, gok
			}
			g.mask = &image.Alpha{Pix: append([]byte(nil), a.Pix...), Stride: a.Stride, Rect: a.Rect}
		}
		if len(f.masks) >= maxCachedGlyphs {
			clear(f.masks)
		}
		f.masks[k] = g
	}
	var mask image.Image
	if g.mask != nil {
		mask = g.mask
	}
	return g.dr.Add(whole), mask, g.maskp, g.advance, g.ok
}
