package pdf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// A Font is a TrueType font made ready for embedding, once per process: its character map and
// advance widths are tables, its glyphs are indexed. It is immutable, so any number of documents
// may share it at the same time; a document only looks up glyphs and writes bytes.
//
// A font is embedded as a subset (a CIDFontType2 with CIDs equal to the original glyph ids): the
// glyphs a document did not use are left empty, which costs a copy of the used glyphs' outlines
// per document. It is not compressed: deflating 30 kB costs more than a page's layout.
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
	tables      map[string][]byte // the tables a subset copies as they are
	glyf        []byte
	loca        []uint32   // offset of each glyph's outline in glyf, and the end
	longLoca    bool       // offsets stored in 32 bits, else halved in 16
	parts       [][]uint16 // the glyphs a composite glyph is made of
}

// ParseTrueType reads a TrueType font (glyf outlines) for embedding. It is the expensive part of
// using a font (it maps every character): call it once and share the result.
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

	// The tables a PDF reader needs of an embedded TrueType font (ISO 32000-1, 9.9), and cmap,
	// which some want though the CIDToGIDMap makes it redundant. glyf and loca are rebuilt for
	// each subset.
	f.tables = map[string][]byte{}
	for _, tag := range []string{"cmap", "cvt ", "fpgm", "head", "hhea", "hmtx", "maxp", "prep"} {
		if t, ok := tables[tag]; ok {
			f.tables[tag] = t
		}
	}
	if post := tables["post"]; len(post) >= 32 {
		// Version 3 of post, without glyph names: what readers need (italic angle, underline,
		// fixed pitch) in 32 bytes.
		f.tables["post"] = binary.BigEndian.AppendUint32([]byte{}, 0x00030000)
		f.tables["post"] = append(f.tables["post"], post[4:32]...)
	}
	if err := f.indexGlyphs(tables["glyf"], tables["loca"], i16(head, 50) == 1); err != nil {
		return nil, fmt.Errorf("parse TrueType font: %w", err)
	}
	return f, nil
}

// indexGlyphs reads where each glyph's outline is, and which glyphs each composite glyph uses.
func (f *Font) indexGlyphs(glyf, loca []byte, long bool) error {
	n := len(f.width)
	f.glyf, f.longLoca = glyf, long
	f.loca = make([]uint32, n+1)
	f.parts = make([][]uint16, n)
	for g := range f.loca {
		if long {
			if len(loca) < 4*(n+1) {
				return fmt.Errorf("short loca table")
			}
			f.loca[g] = binary.BigEndian.Uint32(loca[4*g:])
		} else {
			if len(loca) < 2*(n+1) {
				return fmt.Errorf("short loca table")
			}
			f.loca[g] = 2 * uint32(binary.BigEndian.Uint16(loca[2*g:]))
		}
	}
	for g := range n {
		start, end := f.loca[g], f.loca[g+1]
		if start > end || end > uint32(len(glyf)) {
			return fmt.Errorf("glyph %d lies outside the glyf table", g)
		}
		data := glyf[start:end]
		if len(data) < 10 || int16(binary.BigEndian.Uint16(data)) >= 0 {
			continue // empty or simple
		}
		// A composite glyph: components of flags, glyph id, offsets and an optional transform.
		const (
			argsAreWords   = 0x0001
			scale          = 0x0008
			moreComponents = 0x0020
			xyScale        = 0x0040
			twoByTwo       = 0x0080
		)
		for at := 10; ; {
			if at+4 > len(data) {
				return fmt.Errorf("composite glyph %d is cut short", g)
			}
			flags, part := binary.BigEndian.Uint16(data[at:]), binary.BigEndian.Uint16(data[at+2:])
			if int(part) >= n {
				return fmt.Errorf("composite glyph %d uses glyph %d of %d", g, part, n)
			}
			f.parts[g] = append(f.parts[g], part)
			at += 4 + 2
			if flags&argsAreWords != 0 {
				at += 2
			}
			switch {
			case flags&scale != 0:
				at += 2
			case flags&xyScale != 0:
				at += 4
			case flags&twoByTwo != 0:
				at += 8
			}
			if flags&moreComponents == 0 {
				break
			}
		}
	}
	return nil
}

// subset is the font file with only the outlines of the glyphs marked in keep (and .notdef, and the
// glyphs those are composed of); every other glyph is empty. Glyph ids do not change.
func (f *Font) subset(keep []bool) []byte {
	keep[0] = true
	var mark func(g uint16)
	mark = func(g uint16) {
		for _, p := range f.parts[g] {
			if !keep[p] {
				keep[p] = true
				mark(p)
			}
		}
	}
	for g, k := range keep {
		if k {
			mark(uint16(g))
		}
	}
	size := 0
	for g, k := range keep {
		if k {
			size += int(f.loca[g+1] - f.loca[g])
		}
	}
	glyf := make([]byte, 0, size)
	entry := 2
	if f.longLoca {
		entry = 4
	}
	loca := make([]byte, entry*len(f.loca))
	for g := range f.loca {
		if f.longLoca {
			binary.BigEndian.PutUint32(loca[4*g:], uint32(len(glyf)))
		} else {
			binary.BigEndian.PutUint16(loca[2*g:], uint16(len(glyf)/2))
		}
		if g < len(keep) && keep[g] {
			glyf = append(glyf, f.glyf[f.loca[g]:f.loca[g+1]]...)
		}
	}

	type table struct {
		tag  string
		data []byte
	}
	var tables []table
	for tag, t := range f.tables {
		tables = append(tables, table{tag, t})
	}
	tables = append(tables, table{"glyf", glyf}, table{"loca", loca})
	slices.SortFunc(tables, func(a, b table) int { return strings.Compare(a.tag, b.tag) })

	n := len(tables)
	pow := 1
	for pow*2 <= n {
		pow *= 2
	}
	size = 12 + 16*n
	for _, t := range tables {
		size += (len(t.data) + 3) &^ 3
	}
	out := make([]byte, 12+16*n, size)
	binary.BigEndian.PutUint32(out, 0x00010000)
	binary.BigEndian.PutUint16(out[4:], uint16(n))
	binary.BigEndian.PutUint16(out[6:], uint16(pow*16))
	binary.BigEndian.PutUint16(out[8:], uint16(bits.Len(uint(pow))-1))
	binary.BigEndian.PutUint16(out[10:], uint16(n*16-pow*16))
	headAt := 0
	for i, t := range tables {
		e := out[12+16*i:]
		copy(e, t.tag)
		at := len(out)
		if t.tag == "head" {
			headAt = at
		}
		out = append(out, t.data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		if t.tag == "head" {
			binary.BigEndian.PutUint32(out[at+8:], 0) // checkSumAdjustment, set below
		}
		binary.BigEndian.PutUint32(e[4:], checksum(out[at:]))
		binary.BigEndian.PutUint32(e[8:], uint32(at))
		binary.BigEndian.PutUint32(e[12:], uint32(len(t.data)))
	}
	binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	return out
}

// checksum is the sum of b as big-endian 32-bit words (b is padded to 4 bytes).
func checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i+4 <= len(b); i += 4 {
		sum += binary.BigEndian.Uint32(b[i:])
	}
	return sum
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
