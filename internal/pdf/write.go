package pdf

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
)

// writer lays out the file: objects numbered in the order they are reserved, their byte offsets
// for the cross-reference table, recorded as they are written. Bytes wait in b until flush.
type writer struct {
	b       []byte
	flushed int   // bytes already handed to the destination
	offsets []int // of object n at n-1; -1 until it is written
}

// flushAt is how much of the trailing objects (the page tree, the cross-reference table) is
// gathered before it is written; a page is written whole as soon as it is finished.
const flushAt = 32 << 10

// reserve allocates an object number to be written later.
func (w *writer) reserve() int {
	w.offsets = append(w.offsets, -1)
	return len(w.offsets)
}

// begin starts object n (from reserve).
func (w *writer) begin(n int) {
	w.offsets[n-1] = w.flushed + len(w.b)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
	w.b = append(w.b, " 0 obj\n"...)
}

func (w *writer) end() { w.b = append(w.b, "\nendobj\n"...) }

// stream writes object n as a stream with dict's entries (without Length) and data.
func (w *writer) stream(n int, dict string, data []byte) {
	w.begin(n)
	w.b = append(w.b, "<< "...)
	w.b = append(w.b, dict...)
	w.b = append(w.b, " /Length "...)
	w.b = strconv.AppendInt(w.b, int64(len(data)), 10)
	w.b = append(w.b, " >>\nstream\n"...)
	w.b = append(w.b, data...)
	w.b = append(w.b, "\nendstream"...)
	w.end()
}

func (w *writer) printf(format string, a ...any) { w.b = fmt.Appendf(w.b, format, a...) }

// flush hands what is gathered to the document's destination, if it has one yet and nothing failed.
func (d *Document) flush() {
	if d.dst == nil || d.err != nil || len(d.file.b) == 0 {
		return
	}
	if _, err := d.dst.Write(d.file.b); err != nil {
		d.err = fmt.Errorf("write PDF: %w", err)
		return
	}
	d.file.flushed += len(d.file.b)
	d.file.b = d.file.b[:0]
}

// finishPage writes the current page: its object, content stream, links, and the images it is
// the first to draw. Fonts are written at Close, when every glyph used is known.
func (d *Document) finishPage() {
	d.open = false
	if len(d.saved) != 0 && d.err == nil {
		d.err = fmt.Errorf("write PDF: page %d: %d Save without Restore", len(d.pages)+1, len(d.saved))
	}
	d.saved = d.saved[:0]
	w := d.file
	page, content := w.reserve(), w.reserve()
	d.pages = append(d.pages, page)
	w.begin(page)
	w.b = append(w.b, "<< /Type /Page /Parent "...)
	w.b = appendInt(w.b, d.pageTree)
	w.b = append(w.b, " 0 R /MediaBox [0 0 "...)
	w.b = appendNum(w.b, d.w)
	w.b = append(w.b, ' ')
	w.b = appendNum(w.b, d.h)
	w.b = append(w.b, "] /Resources "...)
	w.b = appendInt(w.b, d.resources)
	w.b = append(w.b, " 0 R /Contents "...)
	w.b = appendInt(w.b, content)
	w.b = append(w.b, " 0 R"...)
	first := len(w.offsets) + 1 // the links' objects are reserved next, in order
	if len(d.links) > 0 {
		w.b = append(w.b, " /Annots ["...)
		for i := range d.links {
			if i > 0 {
				w.b = append(w.b, ' ')
			}
			w.b = appendInt(w.b, first+i)
			w.b = append(w.b, " 0 R"...)
		}
		w.b = append(w.b, ']')
	}
	w.b = append(w.b, " >>"...)
	w.end()
	w.stream(content, "", d.out)
	d.digest.Write(d.out)

	for _, l := range d.links {
		w.begin(w.reserve())
		w.b = append(w.b, "<< /Type /Annot /Subtype /Link /Rect ["...)
		for j, v := range []float64{l.x, l.y, l.x + l.w, l.y + l.h} {
			if j > 0 {
				w.b = append(w.b, ' ')
			}
			w.b = appendNum(w.b, v)
		}
		w.b = append(w.b, "] /Border [0 0 0] /A << /Type /Action /S /URI /URI "...)
		w.b = appendLiteral(w.b, l.uri)
		w.b = append(w.b, " >> >>"...)
		w.end()
	}
	for _, img := range d.images {
		if img.written {
			continue
		}
		img.written = true
		w.begin(img.obj)
		w.printf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n",
			img.Width, img.Height, img.colourSpace(), len(img.data))
		w.b = append(w.b, img.data...)
		w.b = append(w.b, "\nendstream"...)
		w.end()
	}
	d.flush()
}

// Write writes a document made with New to out, as Close does for one made with NewWriter. A
// document is written once.
func (d *Document) Write(out io.Writer) error {
	if d.dst != nil {
		return fmt.Errorf("write PDF: the document was made with NewWriter (or written already): Close it")
	}
	d.dst = out
	return d.Close()
}

// Close finishes the last page and writes what depends on every page: the font subsets, the
// resources, the page tree, the metadata and the cross-reference table. It returns the first
// error of the document's writing.
func (d *Document) Close() error {
	if d.closed {
		return fmt.Errorf("write PDF: the document is closed")
	}
	d.closed = true
	if d.open {
		d.finishPage()
	}
	if len(d.pages) == 0 && d.err == nil {
		d.err = fmt.Errorf("write PDF: no pages")
	}
	if d.err != nil {
		return d.err
	}
	w := d.file
	for _, f := range d.fonts {
		d.writeFont(w, f.obj, f)
		d.flush() // a font subset is tens of kilobytes: do not gather them all
	}

	w.begin(d.resources)
	w.b = append(w.b, "<<"...)
	if len(d.fonts) > 0 {
		w.b = append(w.b, " /Font <<"...)
		for _, f := range d.fonts {
			w.printf(" /%s %d 0 R", f.res, f.obj)
		}
		w.b = append(w.b, " >>"...)
	}
	if len(d.images) > 0 {
		w.b = append(w.b, " /XObject <<"...)
		for i, img := range d.images {
			w.printf(" /Im%d %d 0 R", i+1, img.obj)
		}
		w.b = append(w.b, " >>"...)
	}
	w.b = append(w.b, " >>"...)
	w.end()

	w.begin(d.pageTree)
	w.b = append(w.b, "<< /Type /Pages /Kids ["...)
	for i, p := range d.pages {
		if i > 0 {
			w.b = append(w.b, ' ')
		}
		w.b = appendInt(w.b, p)
		w.b = append(w.b, " 0 R"...)
		if len(w.b) >= flushAt {
			d.flush()
		}
	}
	w.printf("] /Count %d >>", len(d.pages))
	w.end()

	w.begin(d.catalog)
	w.printf("<< /Type /Catalog /Pages %d 0 R", d.pageTree)
	if d.info.Lang != "" {
		w.b = append(w.b, " /Lang "...)
		w.b = appendText(w.b, d.info.Lang)
	}
	w.b = append(w.b, " >>"...)
	w.end()

	w.begin(d.infoObj)
	w.b = append(w.b, "<<"...)
	for _, e := range []struct{ key, value string }{
		{"Title", d.info.Title}, {"Subject", d.info.Subject}, {"Author", d.info.Author},
		{"Creator", d.info.Creator}, {"Producer", d.info.Producer},
	} {
		if e.value != "" {
			w.b = append(w.b, " /"+e.key+" "...)
			w.b = appendText(w.b, e.value)
		}
	}
	if !d.info.Created.IsZero() {
		date := pdfDate(d.info.Created)
		w.b = append(w.b, " /CreationDate "...)
		w.b = appendLiteral(w.b, date)
		w.b = append(w.b, " /ModDate "...)
		w.b = appendLiteral(w.b, date)
	}
	w.b = append(w.b, " >>"...)
	w.end()

	// The file identifier only has to be unique to the document; the same document gets the same.
	id := d.digest.Sum(nil)
	xref := w.flushed + len(w.b)
	w.printf("xref\n0 %d\n0000000000 65535 f \n", len(w.offsets)+1)
	for n, off := range w.offsets {
		if off < 0 {
			return fmt.Errorf("write PDF: object %d reserved but not written", n+1)
		}
		w.b = fmt.Appendf(w.b, "%010d 00000 n \n", off)
		if len(w.b) >= flushAt {
			d.flush()
		}
	}
	w.printf("trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%x> <%x>] >>\nstartxref\n%d\n%%%%EOF\n",
		len(w.offsets)+1, d.catalog, d.infoObj, id, id, xref)
	d.flush()
	return d.err
}

// writeFont writes f as a Type 0 font (object n) over a CIDFontType2 whose CIDs are glyph ids,
// with the widths and the Unicode map of the glyphs the document used.
func (d *Document) writeFont(w *writer, n int, f *usedFont) {
	var glyphs []int
	keep := make([]bool, len(f.used))
	for g, r := range f.used {
		if r != 0 {
			glyphs = append(glyphs, g)
			keep[g] = true
		}
	}
	name := subsetTag(glyphs) + "+" + f.name

	cid, desc, file, toUni := w.reserve(), w.reserve(), w.reserve(), w.reserve()
	w.begin(n)
	w.printf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>",
		name, cid, toUni)
	w.end()
	w.begin(cid)
	w.printf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /CIDToGIDMap /Identity /DW ",
		name, desc)
	w.b = appendNum(w.b, f.width[0])
	w.b = append(w.b, " /W ["...)
	for i := 0; i < len(glyphs); {
		// A run of consecutive glyph ids shares one start.
		j := i + 1
		for j < len(glyphs) && glyphs[j] == glyphs[j-1]+1 {
			j++
		}
		w.b = append(w.b, ' ')
		w.b = strconv.AppendInt(w.b, int64(glyphs[i]), 10)
		w.b = append(w.b, " ["...)
		for k, g := range glyphs[i:j] {
			if k > 0 {
				w.b = append(w.b, ' ')
			}
			w.b = appendNum(w.b, math.Round(f.width[g]))
		}
		w.b = append(w.b, ']')
		i = j
	}
	w.b = append(w.b, " ] >>"...)
	w.end()

	flags := 32 // nonsymbolic: the standard Latin characters
	if f.fixedPitch {
		flags |= 1
	}
	if f.italicAngle != 0 {
		flags |= 64
	}
	w.begin(desc)
	w.printf("<< /Type /FontDescriptor /FontName /%s /Flags %d /FontBBox [%d %d %d %d] /ItalicAngle ",
		name, flags, f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3])
	w.b = appendNum(w.b, f.italicAngle)
	w.printf(" /Ascent %d /Descent %d /CapHeight %d /StemV %d /FontFile2 %d 0 R >>",
		f.ascent, f.descent, f.capHeight, f.stemV, file)
	w.end()

	font := f.subset(keep)
	w.stream(file, "/Length1 "+strconv.Itoa(len(font)), font)
	w.stream(toUni, "", toUnicode(f.used, glyphs))
}

// subsetTag names a subset by the glyphs in it, six capital letters as ISO 32000-1 (9.6.4) has
// them, so that two different subsets of one font in one reader do not pass for each other.
func subsetTag(glyphs []int) string {
	h := fnv.New64a()
	for _, g := range glyphs {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum64()
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + byte(sum%26)
		sum /= 26
	}
	return string(tag)
}

// toUnicode is the CMap from the glyph ids used to the characters they were used for, so that
// text can be searched, copied and read aloud.
func toUnicode(used []rune, glyphs []int) []byte {
	b := []byte("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for chunk := range slices.Chunk(glyphs, 100) { // at most 100 entries per block
		b = strconv.AppendInt(b, int64(len(chunk)), 10)
		b = append(b, " beginbfchar\n"...)
		for _, g := range chunk {
			b = fmt.Appendf(b, "<%04X> <", g)
			for _, u := range utf16.Encode([]rune{used[g]}) {
				b = fmt.Appendf(b, "%04X", u)
			}
			b = append(b, ">\n"...)
		}
		b = append(b, "endbfchar\n"...)
	}
	return append(b, "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"...)
}

// appendNum appends v in at most three decimals, the precision of everything drawn here (a
// thousandth of a point).
func appendNum(b []byte, v float64) []byte {
	v = math.Round(v*1000) / 1000
	if v == 0 {
		return append(b, '0') // also for -0
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// appendText appends s as a PDF text string: a literal if it is printable ASCII, otherwise
// UTF-16BE with a byte order mark, as a hex string.
func appendText(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		ascii = ascii && s[i] >= ' ' && s[i] <= '~'
	}
	if ascii {
		return appendLiteral(b, s)
	}
	b = append(b, "<FEFF"...)
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, hexDigits[u>>12], hexDigits[u>>8&15], hexDigits[u>>4&15], hexDigits[u&15])
	}
	return append(b, '>')
}

// appendLiteral appends s as a literal string: the delimiters and the escape character escaped,
// bytes outside printable ASCII in octal, so that no line ending inside is changed by a reader.
func appendLiteral(b []byte, s string) []byte {
	b = append(b, '(')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(' || c == ')' || c == '\\':
			b = append(b, '\\', c)
		case c < ' ' || c > '~':
			b = append(b, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		default:
			b = append(b, c)
		}
	}
	return append(b, ')')
}

// pdfDate formats t as a PDF date, D:YYYYMMDDHHmmSS with its offset from UTC as +HH'mm'.
func pdfDate(t time.Time) string {
	s := t.Format("D:20060102150405")
	_, off := t.Zone()
	if off == 0 {
		return s + "Z"
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%s%c%02d'%02d'", s, sign, off/3600, off/60%60)
}
