package shipping

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
)

// zplDPI is the resolution of the common Zebra label printers: 4 × 6 in is 812 × 1218 dots.
const zplDPI = 203

// WriteZPL renders labels as ZPL II for Zebra label printers (203 dpi, 4 × 6 in media): one
// ^XA … ^XZ format per label, UTF-8 text (^CI28), the id as a native Code 128 (^BC, automatic code
// sets) that the printer draws itself. Text is placed line by line from the same layout as the
// PDF, in font 0 or the configured printer font (LabelConfig.ZPLFont); both are Helvetica-like and
// narrower than the Go fonts the lines are measured with, so a line never runs off the label. ZPL's command characters in text (^ ~ _) are sent hex-escaped (^FH).
// As with WritePDF, nothing is written if any label cannot be printed whole.
func (l *Labeler) WriteZPL(w io.Writer, labels []Label) error {
	// Every label checked first (nothing is written if one cannot print whole), then laid out
	// again as it is written: a batch of any size holds one label's layout.
	if err := l.checkAll(labels); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	font := "^A0N,%d,%d"
	if l.zplFont != "" {
		font = "^A@N,%d,%d," + l.zplFont
	}
	for _, lb := range labels {
		lo, err := l.layout(lb)
		if err != nil { // checked above: the layout is a pure function of the label
			return err
		}
		writeZPLLabel(bw, lb, lo, font)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write ZPL labels: %w", err)
	}
	return nil
}

func dots(mm float64) int { return int(math.Round(mm / 25.4 * zplDPI)) }

// writeZPLLabel writes one format; font is the font command with the height and width verbs.
func writeZPLLabel(w *bufio.Writer, lb Label, lo *layout, font string) {
	fmt.Fprintf(w, "^XA\n^CI28\n^PW%d\n^LL%d\n^LH0,0\n", dots(labelW), dots(labelH))
	fmt.Fprintf(w, "^FX %s %s order %s\n", lb.Kind, lb.ID, zplComment(lb.OrderID))
	for _, b := range lo.boxes {
		t := dots(b.Line)
		if b.Line == 0 { // filled: a border as thick as the box
			t = min(dots(b.W), dots(b.H))
		}
		fmt.Fprintf(w, "^FO%d,%d^GB%d,%d,%d^FS\n", dots(b.X), dots(b.Y), dots(b.W), dots(b.H), t)
	}
	for _, r := range lo.runs {
		h := dots(r.Size * ptMM)
		block := ""
		if r.W > 0 { // one centred line; these short fixed texts fit with room to spare
			block = fmt.Sprintf("^FB%d,1,0,C", dots(r.W))
		}
		fmt.Fprintf(w, "^FO%d,%d"+font+"%s^FH_^FD%s^FS\n", dots(r.X), dots(r.Y), h, h, block, zplEscape(r.Text))
	}
	if lo.code != "" {
		fmt.Fprintf(w, "^FO%d,%d^BY%d,3,%d^BCN,%d,N,N,N,A^FD%s^FS\n",
			dots(lo.codeX), dots(lo.codeY), dots(lo.module), dots(lo.codeH), dots(lo.codeH), zplEscape(lo.code))
	}
	w.WriteString("^PQ1\n^XZ\n")
}

// zplEscape hex-escapes the characters ZPL would read as commands or as the ^FH escape itself.
func zplEscape(s string) string {
	if !strings.ContainsAny(s, "_^~") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '_':
			b.WriteString("_5F")
		case '^':
			b.WriteString("_5E")
		case '~':
			b.WriteString("_7E")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// zplComment keeps a comment (^FX) free of command characters.
func zplComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '^' || r == '~' {
			return ' '
		}
		return r
	}, s)
}
