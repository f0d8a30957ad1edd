package pdf

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// A Font is a TrueType font made ready for embedding, once per process: its character map and
// advance widths are tables, its file is compressed. It is immutable, so any number of documents
// may share it at the same time; a document only looks up glyphs and writes bytes.
//
// A font is embedded whole (as a CIDFontType2 with CIDs equal to glyph ids), not subset: that costs
// bytes in every document but no per-document work beyond the widths and the Unicode map of the
// glyphs it used.
type Font struct {
	name        string   // PostScript name, the BaseFont
	bmp         []uint16 // glyph id per rune below 0x10000 (0: no glyph)
	astral      map[rune]uint16
	width       []float64 // advance per glyph id, in thousandths of the em
	bbox        [4]int    // in thousandths of the em
	ascent      int
	descent     int
	capHeight   int
	italicAngle float64
	stemV       int
	fixedPitch  bool
	file        []byte // the font file, zlib compressed
	fileLength  int    // uncompressed
}

// ParseTrueType reads a TrueType font (glyf outlines) and compresses it for embedding. It is the
// expensive part of using a font: call it once and share the result.
func ParseTrueType(ttf []byte) (*Font, error) {
	tables, err := tableDirectory(ttf)
	if err != nil {
		return nil, fmt.Errorf("parse TrueType font: %w", err)
	}
	for _, need := range []string{"head", "hhea", "glyf", "loca", "cmap", "hmtx", "maxp"} {
		if _, ok := tables[need]; !ok {
			return nil, fmt.Errorf("parse TrueType font: no %q table (only TrueType outlines can be embedded)", need)
		}
	}
	sf, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("parse TrueType font: %w", err)
	}
	var buf sfnt.Buffer
	f := &Font{bmp: make([]uint16, 0x10000), astral: map[rune]uint16{}}
	if f.name, err = sf.Name(&buf, sfnt.NameIDPostScript); err != nil || f.name == "" {
		return nil, fmt.Errorf("parse TrueType font: no PostScript name: %v", err)
	}
	f.name = strings.Map(func(r rune) rune { // a PDF name without escapes
		if r <= ' ' || r > '~' || strings.ContainsRune("()<>[]{}/%#", r) {
			return -1
		}
		return r
	}, f.name)

	head, hhea := tables["head"], tables["hhea"]
	if len(head) < 54 || len(hhea) < 36 {
		return nil, fmt.Errorf("parse TrueType font: short head or hhea table")
	}
	upem := float64(binary.BigEndian.Uint16(head[18:]))
	if upem == 0 {
		return nil, fmt.Errorf("parse TrueType font: units per em is 0")
	}
	em := func(units int16) int { return int(math.Round(float64(units) * 1000 / upem)) }
	i16 := func(b []byte, at int) int16 { return int16(binary.BigEndian.Uint16(b[at:])) }
	f.bbox = [4]int{em(i16(head, 36)), em(i16(head, 38)), em(i16(head, 40)), em(i16(head, 42))}
	f.ascent, f.descent = em(i16(hhea, 4)), em(i16(hhea, 6))
	f.capHeight = f.ascent
	weight := 400
	if os2 := tables["OS/2"]; len(os2) >= 6 {
		weight = int(binary.BigEndian.Uint16(os2[4:]))
		if binary.BigEndian.Uint16(os2) >= 2 && len(os2) >= 90 {
			f.capHeight = em(i16(os2, 88))
		}
	}
	// There is no stem width in a TrueType font; this common estimate from the weight class is
	// what viewers use only when they have to substitute the font.
	f.stemV = 50 + int(math.Pow(float64(weight)/65, 2))
	if pt := sf.PostTable(); pt != nil {
		f.italicAngle, f.fixedPitch = pt.ItalicAngle, pt.IsFixedPitch
	}

	ppem := fixed.Int26_6(upem * 64) // advances come back in font units × 64
	f.width = make([]float64, sf.NumGlyphs())
	for g := range f.width {
		adv, err := sf.GlyphAdvance(&buf, sfnt.GlyphIndex(g), ppem, 0)
		if err != nil {
			return nil, fmt.Errorf("parse TrueType font: advance of glyph %d: %w", g, err)
		}
		f.width[g] = float64(adv) / 64 * 1000 / upem
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r == 0x10000 && len(f.astral) == 0 {
			// Fonts with no supplementary planes (most): do not probe the other million.
			if g, _ := sf.GlyphIndex(&buf, 0x1F600); g == 0 {
				if g, _ := sf.GlyphIndex(&buf, 0x20000); g == 0 {
					break
				}
			}
		}
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		g, err := sf.GlyphIndex(&buf, r)
		if err != nil || g == 0 {
			continue
		}
		if r < 0x10000 {
			f.bmp[r] = uint16(g)
		} else {
			f.astral[r] = uint16(g)
		}
	}

	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(ttf) // a bytes.Buffer does not fail
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress TrueType font: %w", err)
	}
	f.file, f.fileLength = z.Bytes(), len(ttf)
	return f, nil
}

// tableDirectory maps each table tag of a TrueType font to its bytes.
func tableDirectory(ttf []byte) (map[string][]byte, error) {
	if len(ttf) < 12 {
		return nil, fmt.Errorf("too short for a font")
	}
	if v := binary.BigEndian.Uint32(ttf); v != 0x00010000 && v != 0x74727565 { // 1.0 or "true"
		return nil, fmt.Errorf("not a TrueType font (version %#x)", v)
	}
	n := int(binary.BigEndian.Uint16(ttf[4:]))
	if len(ttf) < 12+16*n {
		return nil, fmt.Errorf("table directory runs past the end")
	}
	tables := make(map[string][]byte, n)
	for i := range n {
		e := ttf[12+16*i:]
		off, length := binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])
		if uint64(off)+uint64(length) > uint64(len(ttf)) {
			return nil, fmt.Errorf("table %q runs past the end", e[:4])
		}
		tables[string(e[:4])] = ttf[off : off+length]
	}
	return tables, nil
}

// glyph is the glyph id for r, 0 (.notdef) if the font has none.
func (f *Font) glyph(r rune) uint16 {
	if r >= 0 && r < 0x10000 {
		return f.bmp[r]
	}
	return f.astral[r]
}

// Has says whether the font has a glyph for r.
func (f *Font) Has(r rune) bool { return f.glyph(r) != 0 }

// Width is the advance of s set in f at size (any unit: the result is in the same unit per em),
// without kerning: the width that Text draws s with.
func (f *Font) Width(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		w += f.width[f.glyph(r)]
	}
	return w * size / 1000
}
