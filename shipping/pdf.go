package shipping

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"cardline/internal/pdf"
)

// WritePDF renders labels as a PDF of 4 × 6 in pages, one label a page, for label printers and
// office printers with 4 × 6 media. Every label is laid out first; if any cannot be printed whole,
// nothing is written and the error names each label and field.
func (l *Labeler) WritePDF(w io.Writer, labels []Label) error {
	return l.writePDF(w, labels, false)
}

// WritePDFSheet renders labels four to an A4 page (each in an A6 quarter, scaled to 97.4 % to fit
// its height, with cut lines between them) for office printers with plain paper or A6 label
// sheets. Like WritePDF, it writes nothing if any label cannot be printed whole.
func (l *Labeler) WritePDFSheet(w io.Writer, labels []Label) error {
	return l.writePDF(w, labels, true)
}

// The A4 sheet: four A6 cells.
const (
	sheetW, sheetH = 210.0, 297.0
	cellW, cellH   = sheetW / 2, sheetH / 2
	sheetScale     = cellH / labelH
)

// mm is the size of the labels' unit in points.
const mm = 72 / 25.4

// labelFonts are the label faces ready for embedding, shared by every document of the process
// (pdf.GoFonts).
func labelFonts() (pdfFaces, error) {
	regular, bold, err := pdf.GoFonts()
	return pdfFaces{regular: regular, bold: bold}, err
}

type pdfFaces struct{ regular, bold *pdf.Font }

// cutLine is the colour of the sheet's dashed cut lines: visible, but lighter than any print.
var cutLine = pdf.RGB{R: 160, G: 160, B: 160}

// writePDF checks every label first (nothing is written if one cannot be printed whole), then
// lays each out again as it draws it: a batch of any size costs one label's layout and one page
// in memory, each page going to w as the next starts.
func (l *Labeler) writePDF(w io.Writer, labels []Label, sheet bool) error {
	if err := l.checkAll(labels); err != nil {
		return err
	}
	fonts, err := labelFonts()
	if err != nil {
		return fmt.Errorf("write label PDF: fonts: %w", err)
	}
	doc := pdf.NewWriter(w, mm, pdf.Info{Title: "Shipping labels", Creator: "cardline", Producer: "cardline",
		Created: l.now(), Lang: "nb-NO"})
	for i, lb := range labels {
		lo, err := l.layout(lb)
		if err != nil { // checked above: the layout is a pure function of the label
			return err
		}
		if !sheet {
			if err := doc.AddPage(labelW, labelH); err != nil {
				return fmt.Errorf("write label PDF: %w", err)
			}
			drawLabel(doc, fonts, lo)
			continue
		}
		cell := i % 4
		if cell == 0 {
			if err := doc.AddPage(sheetW, sheetH); err != nil {
				return fmt.Errorf("write label PDF: %w", err)
			}
			doc.SetStrokeColor(cutLine)
			doc.SetLineWidth(0.2)
			doc.SetDash([]float64{2, 2}, 0)
			doc.Line(cellW, 0, cellW, sheetH)
			doc.Line(0, cellH, sheetW, cellH)
			doc.SetDash(nil, 0)
		}
		doc.Save()
		doc.Transform(float64(cell%2)*cellW+(cellW-labelW*sheetScale)/2, float64(cell/2)*cellH, sheetScale)
		drawLabel(doc, fonts, lo)
		doc.Restore()
	}
	if err := doc.Close(); err != nil {
		return fmt.Errorf("write label PDF: %w", err)
	}
	return nil
}

// drawLabel draws one laid-out label with its top-left corner at the origin.
func drawLabel(doc *pdf.Document, fonts pdfFaces, lo *layout) {
	black := pdf.RGB{}
	doc.SetFillColor(black)
	doc.SetStrokeColor(black)
	doc.SetTextColor(black)
	for _, b := range lo.boxes {
		if b.Line > 0 {
			doc.SetLineWidth(b.Line)
			doc.Rect(b.X+b.Line/2, b.Y+b.Line/2, b.W-b.Line, b.H-b.Line, pdf.Stroke)
		} else {
			doc.Rect(b.X, b.Y, b.W, b.H, pdf.Fill)
		}
	}
	for _, r := range lo.runs {
		f := fonts.regular
		if r.Bold {
			f = fonts.bold
		}
		doc.SetFont(f, r.Size)
		x := r.X
		if r.W > 0 {
			x += (r.W - doc.StringWidth(r.Text)) / 2
		}
		doc.Text(x, r.Y+baseline(r.Size), r.Text)
	}
	// Bars as vector rectangles, one per run of dark modules: sharp at any printer resolution.
	for i := 0; i < len(lo.modules); {
		if !lo.modules[i] {
			i++
			continue
		}
		j := i
		for j < len(lo.modules) && lo.modules[j] {
			j++
		}
		doc.Rect(lo.codeX+float64(i)*lo.module, lo.codeY, float64(j-i)*lo.module, lo.codeH, pdf.Fill)
		i = j
	}
}

// baseline is how far below a line's top its baseline lies, in mm: the Go fonts' ascent is
// about 0.93 em; a line is leading (1.2) em tall.
func baseline(size float64) float64 { return 0.95 * size * ptMM }

// checkAll lays out every label and gathers every failure, keeping no layout.
func (l *Labeler) checkAll(labels []Label) error {
	var errs []error
	for _, lb := range labels {
		if _, err := l.layout(lb); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lay out labels: %w", err)
	}
	return nil
}

// WritePDF renders the manifest on A4 pages: pickup and sender, totals, a table of letters and
// parcels per postal code, every id by postal code, and a line for the post's signature. Each page
// says "side n av m": the manifest is laid out once to count its pages, then drawn.
func (m Manifest) WritePDF(w io.Writer) error {
	fonts, err := labelFonts()
	if err != nil {
		return fmt.Errorf("write manifest %s PDF: fonts: %w", m.Batch, err)
	}
	count := &flow{fonts: fonts}
	m.draw(count)
	doc := pdf.NewWriter(w, mm, pdf.Info{Title: "Manifest " + string(m.Batch), Creator: "cardline", Producer: "cardline", Lang: "nb-NO"})
	f := &flow{doc: doc, fonts: fonts, pages: count.page, footer: func(page, pages int) string {
		return fmt.Sprintf("Manifest %s — side %d av %d", m.Batch, page, pages)
	}}
	m.draw(f)
	f.finish()
	if err := doc.Close(); err != nil {
		return fmt.Errorf("write manifest %s PDF: %w", m.Batch, err)
	}
	if f.err != nil {
		return fmt.Errorf("write manifest %s PDF: %w", m.Batch, f.err)
	}
	return nil
}

// draw lays the manifest out in f.
func (m Manifest) draw(f *flow) {
	f.addPage()
	f.setFont(true, 16)
	f.cell(0, 9, "Manifest "+string(m.Batch), "", alignLeft, true)
	f.setFont(false, 10)
	f.cell(0, 5.5, "Henting: "+m.Pickup.Format("02.01.2006 15:04"), "", alignLeft, true)
	s := m.Sender
	f.multiCell(5.5, fmt.Sprintf("Avsender: %s, %s, %s %s", s.Name, s.Street, s.PostalCode, s.City))
	f.setFont(true, 11)
	f.cell(0, 7, fmt.Sprintf("Brev: %d    Pakker: %d    Totalt: %d", m.Letters, m.Parcels, m.Letters+m.Parcels), "", alignLeft, true)
	f.ln(3)

	cols := []struct {
		title string
		w     float64
		align align
	}{{"Postnr.", 24, alignLeft}, {"Sted", 90, alignLeft}, {"Brev", 30, alignRight}, {"Pakker", 30, alignRight}}
	f.setFont(true, 10)
	for i, c := range cols {
		f.cell(c.w, 7, c.title, "B", c.align, i == len(cols)-1)
	}
	f.setFont(false, 10)
	for _, l := range m.Lines {
		vals := []string{l.PostalCode, l.City, strconv.Itoa(l.Letters), strconv.Itoa(l.Parcels)}
		for i, c := range cols {
			f.cell(c.w, 6, vals[i], "", c.align, i == len(cols)-1)
		}
	}
	f.setFont(true, 10)
	f.cell(cols[0].w+cols[1].w, 7, "Sum", "T", alignLeft, false)
	f.cell(cols[2].w, 7, strconv.Itoa(m.Letters), "T", alignRight, false)
	f.cell(cols[3].w, 7, strconv.Itoa(m.Parcels), "T", alignRight, true)
	f.ln(6)

	f.setFont(true, 12)
	f.cell(0, 8, "Sendinger per postnummer", "", alignLeft, true)
	const perRow, idW = 4, 43.5
	for _, l := range m.Lines {
		f.setFont(true, 10)
		f.cell(0, 6.5, fmt.Sprintf("%s %s — %d brev, %d pakker", l.PostalCode, l.City, l.Letters, l.Parcels), "B", alignLeft, true)
		f.setFont(false, 9)
		ids := make([]string, 0, len(l.EnvelopeIDs)+len(l.ParcelIDs))
		for _, id := range l.EnvelopeIDs {
			ids = append(ids, string(id))
		}
		for _, id := range l.ParcelIDs {
			ids = append(ids, string(id)+" (pakke)")
		}
		for i, id := range ids {
			f.cell(idW, 5, id, "", alignLeft, i%perRow == perRow-1 || i == len(ids)-1)
		}
		f.ln(2)
	}
	f.ln(10)
	f.setFont(false, 10)
	f.cell(85, 6, "Mottatt av Posten (signatur)", "T", alignLeft, false)
	f.cell(10, 6, "", "", alignLeft, false)
	f.cell(50, 6, "Dato og klokkeslett", "T", alignLeft, true)
}

// The manifest's A4 page, in mm.
const (
	flowMargin     = 18.0
	flowCellMargin = 1.0  // text's inset from a cell's left and right edges
	flowFooterY    = 14.0 // from the bottom
	flowLine       = 0.2  // the width of a cell's border
)

type align int

const (
	alignLeft align = iota
	alignRight
	alignCentre
)

// A flow sets text in cells left to right and lines top to bottom on A4 pages, starting a new page
// when a cell would cross the bottom margin. Without a document it only counts the pages, so the
// footer of a drawn flow can name their number.
type flow struct {
	// The page and its margin, in mm; zero: the manifest's A4 with flowMargin.
	pageW, pageH, margin float64

	doc    *pdf.Document // nil: count pages only
	fonts  pdfFaces
	font   *pdf.Font
	size   float64 // points
	x, y   float64
	lastH  float64
	page   int // pages begun
	pages  int // of the drawn document: the count of a counting flow
	footer func(page, pages int) string
	err    error
}

func (f *flow) setFont(bold bool, size float64) {
	f.font, f.size = f.fonts.regular, size
	if bold {
		f.font = f.fonts.bold
	}
	if f.doc != nil {
		f.doc.SetFont(f.font, size)
	}
}

// addPage finishes the current page with its footer and begins the next.
func (f *flow) addPage() {
	if f.pageW == 0 {
		f.pageW, f.pageH, f.margin = sheetW, sheetH, flowMargin
	}
	f.finish()
	f.page++
	f.x, f.y = f.margin, f.margin
	if f.doc == nil {
		return
	}
	if err := f.doc.AddPage(f.pageW, f.pageH); err != nil && f.err == nil {
		f.err = err
	}
	f.doc.SetLineWidth(flowLine)
	if f.font != nil {
		f.doc.SetFont(f.font, f.size)
	}
}

// finish draws the current page's footer.
func (f *flow) finish() {
	if f.doc == nil || f.page == 0 || f.footer == nil {
		return
	}
	font, size, x, y := f.font, f.size, f.x, f.y
	f.setFont(false, 8)
	f.x, f.y = f.margin, f.pageH-flowFooterY
	f.draw(0, 5, f.footer(f.page, f.pages), "", alignCentre)
	f.font, f.size, f.x, f.y = font, size, x, y
	f.doc.SetFont(font, size)
}

// cell sets text in a cell w wide (0: to the right margin) and h high, with a border line at its
// bottom ("B") or top ("T"); then moves right, or to the start of the next line.
func (f *flow) cell(w, h float64, text, border string, a align, newline bool) {
	if f.y+h > f.pageH-f.margin {
		x := f.x
		f.addPage()
		f.x = x
	}
	if w == 0 {
		w = f.pageW - f.margin - f.x
	}
	f.draw(w, h, text, border, a)
	f.lastH = h
	if newline {
		f.x, f.y = f.margin, f.y+h
	} else {
		f.x += w
	}
}

func (f *flow) draw(w, h float64, text, border string, a align) {
	if f.doc == nil {
		return
	}
	if w == 0 {
		w = f.pageW - f.margin - f.x
	}
	switch border {
	case "B":
		f.doc.Line(f.x, f.y+h, f.x+w, f.y+h)
	case "T":
		f.doc.Line(f.x, f.y, f.x+w, f.y)
	}
	if text == "" {
		return
	}
	x := f.x + flowCellMargin
	switch a {
	case alignRight:
		x = f.x + w - flowCellMargin - f.width(text)
	case alignCentre:
		x = f.x + (w-f.width(text))/2
	}
	// The baseline a little below the cell's middle: capitals sit centred in it.
	f.doc.Text(x, f.y+h/2+0.3*f.size/mm, text)
}

// width is the width of s in the current font, in mm.
func (f *flow) width(s string) float64 { return f.font.Width(s, f.size) / mm }

// ln moves to the start of a line h below the current one.
func (f *flow) ln(h float64) { f.x, f.y = f.margin, f.y+h }

// multiCell sets text from the current position to the right margin, wrapped at spaces (a word
// longer than a line is broken), one cell h high per line.
func (f *flow) multiCell(h float64, text string) {
	x0 := f.x // every line starts here: a column beside a label cell
	room := f.pageW - f.margin - x0 - 2*flowCellMargin
	cell := func(text string) {
		f.x = x0
		f.cell(0, h, text, "", alignLeft, true)
	}
	line := ""
	for _, word := range strings.Fields(text) {
		for f.width(word) > room {
			if line != "" {
				cell(line)
				line = ""
			}
			n := len(word)
			for n > 1 && f.width(word[:n]) > room {
				_, size := utf8.DecodeLastRuneInString(word[:n])
				n -= size
			}
			cell(word[:n])
			word = word[n:]
		}
		switch {
		case line == "":
			line = word
		case f.width(line+" "+word) <= room:
			line += " " + word
		default:
			cell(line)
			line = word
		}
	}
	cell(line)
}
