package printer

import (
	"image"
	"image/color"
	"image/draw"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"
)

// A textBox is a rectangle on a face that one piece of text must stay inside: the text is set
// at the largest size from maxPx down to minPx at which it fits in at most maxLines lines,
// wrapping at spaces and after hyphens. Text that does not fit even at minPx is broken between
// letters, and as a last resort cut with an ellipsis; drawing is clipped to the box, so no glyph
// ever lands outside it, whatever the text.
type textBox struct {
	r            image.Rectangle
	maxPx, minPx int
	maxLines     int
	bold         bool
	col          color.Color
	center       bool
}

// lineHeight is the advance between baselines: the font's ascent plus descent, which in the Go
// fonts leaves room for the accents of capitals such as Å, Ž and Ś.
func lineHeight(fc font.Face) int {
	m := fc.Metrics()
	return (m.Ascent + m.Descent).Ceil()
}

// layout fits s into the box and returns the face and the lines to draw.
func (b textBox) layout(fs *fonts, s string) (font.Face, []string) {
	s = strings.Join(strings.Fields(norm.NFC.String(s)), " ")
	w := fixed.I(b.r.Dx())
	for px := b.maxPx; px >= b.minPx; px -= 2 {
		fc := fs.face(b.bold, px)
		n := b.linesFor(fc)
		if n == 0 {
			continue
		}
		if lines, ok := wrapWords(fc, s, w, n); ok {
			return fc, lines
		}
	}
	fc := fs.face(b.bold, b.minPx)
	n := max(b.linesFor(fc), 1)
	return fc, wrapLetters(fc, s, w, n)
}

func (b textBox) linesFor(fc font.Face) int {
	return min(b.maxLines, b.r.Dy()/lineHeight(fc))
}

// draw sets s in the box on dst, lines stacked from the top of the box.
func (b textBox) draw(dst draw.Image, fs *fonts, s string) {
	fc, lines := b.layout(fs, s)
	clip, ok := dst.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return
	}
	d := font.Drawer{Dst: clip.SubImage(b.r).(draw.Image), Src: image.NewUniform(b.col), Face: fc}
	lh := lineHeight(fc)
	asc := fc.Metrics().Ascent.Ceil()
	for i, ln := range lines {
		x := fixed.I(b.r.Min.X)
		if b.center {
			x += (fixed.I(b.r.Dx()) - font.MeasureString(fc, ln)) / 2
		}
		d.Dot = fixed.Point26_6{X: x, Y: fixed.I(b.r.Min.Y + i*lh + asc)}
		d.DrawString(ln)
	}
}

// wrapWords breaks s into at most n lines no wider than w, at spaces and after hyphens. It
// reports false when some word alone is too wide or more lines are needed.
func wrapWords(fc font.Face, s string, w fixed.Int26_6, n int) ([]string, bool) {
	var lines []string
	line := ""
	for _, word := range splitBreakable(s) {
		try := line + word
		if line != "" && font.MeasureString(fc, strings.TrimRight(try, " ")) > w {
			lines = append(lines, strings.TrimRight(line, " "))
			line = word
		} else {
			line = try
		}
		if font.MeasureString(fc, strings.TrimRight(line, " ")) > w {
			return nil, false
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, strings.TrimRight(line, " "))
	}
	return lines, len(lines) <= n
}

// splitBreakable splits s after each space and each hyphen, so that joining the parts gives s back
// and a line may end after any part.
func splitBreakable(s string) []string {
	var parts []string
	start := 0
	for i, r := range s {
		if r == ' ' || r == '-' {
			parts = append(parts, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		parts = append(parts, s[start:])
	}
	return parts
}

// wrapLetters fills at most n lines letter by letter (never splitting a letter from the
// combining marks that follow it), ending the last line with "…" if text is left over.
func wrapLetters(fc font.Face, s string, w fixed.Int26_6, n int) []string {
	var lines []string
	for len(lines) < n && s != "" {
		cut := fitPrefix(fc, s, w)
		if len(lines) == n-1 && cut < len(s) {
			ell := "…"
			cut = fitPrefix(fc, s, w-font.MeasureString(fc, ell))
			lines = append(lines, strings.TrimRight(s[:cut], " ")+ell)
			return lines
		}
		lines = append(lines, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	return lines
}

// fitPrefix returns the length in bytes of the longest prefix of s, ending on a grapheme-ish
// boundary (a starter rune), that fits in w; at least one letter, so the loop always advances.
func fitPrefix(fc font.Face, s string, w fixed.Int26_6) int {
	best := 0
	var it norm.Iter
	it.InitString(norm.NFC, s)
	pos := 0
	for !it.Done() {
		seg := it.Next()
		next := pos + len(seg)
		if font.MeasureString(fc, s[:next]) > w && best > 0 {
			break
		}
		best = next
		pos = next
	}
	if best == 0 {
		_, size := utf8.DecodeRuneInString(s)
		best = size
	}
	return best
}
