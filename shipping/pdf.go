package shipping

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"cardline/internal/pdf"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
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

// labelFonts are the label faces ready for embedding, parsed once per process: parsing is the
// expensive part of a font, and the result is immutable and shared by every document.
var labelFonts = sync.OnceValues(func() (pdfFaces, error) {
	regular, err := pdf.ParseTrueType(goregular.TTF)
	if err != nil {
		return pdfFaces{}, fmt.Errorf("Go Regular: %w", err)
	}
	bold, err := pdf.ParseTrueType(gobold.TTF)
	if err != nil {
		return pdfFaces{}, fmt.Errorf("Go Bold: %w", err)
	}
	return pdfFaces{regular: regular, bold: bold}, nil
})

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

// layoutAll lays out every label and gathers every failure.
func (l *Labeler) layoutAll(labels []Label) ([]*layout, error) {
	out := make([]*layout, 0, len(labels))
	var errs []error
	for _, lb := range labels {
		lo, err := l.layout(lb)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, lo)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("lay out labels: %w", err)
	}
	return out, nil
}

// WritePDF renders the manifest on A4 pages: pickup and sender, totals, a table of letters and
// parcels per postal code, every id by postal code, and a line for the post's signature.
func (m Manifest) WritePDF(w io.Writer) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.SetTitle("Manifest "+string(m.Batch), true)
	pdf.SetCatalogSort(true)
	pdf.SetCreator("cardline", true)
	pdf.SetLang("nb-NO")
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.AliasNbPages("")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("go", "", 8)
		pdf.CellFormat(0, 5, fmt.Sprintf("Manifest %s — side %d av {nb}", m.Batch, pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("go", "B", 16)
	pdf.CellFormat(0, 9, "Manifest "+string(m.Batch), "", 1, "L", false, 0, "")
	pdf.SetFont("go", "", 10)
	pdf.CellFormat(0, 5.5, "Henting: "+m.Pickup.Format("02.01.2006 15:04"), "", 1, "L", false, 0, "")
	s := m.Sender
	pdf.MultiCell(0, 5.5, fmt.Sprintf("Avsender: %s, %s, %s %s", s.Name, s.Street, s.PostalCode, s.City), "", "L", false)
	pdf.SetFont("go", "B", 11)
	pdf.CellFormat(0, 7, fmt.Sprintf("Brev: %d    Pakker: %d    Totalt: %d", m.Letters, m.Parcels, m.Letters+m.Parcels), "", 1, "L", false, 0, "")
	pdf.Ln(3)

	cols := []struct {
		title string
		w     float64
		align string
	}{{"Postnr.", 24, "L"}, {"Sted", 90, "L"}, {"Brev", 30, "R"}, {"Pakker", 30, "R"}}
	header := func() {
		pdf.SetFont("go", "B", 10)
		for _, c := range cols {
			pdf.CellFormat(c.w, 7, c.title, "B", 0, c.align, false, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("go", "", 10)
	}
	header()
	for _, l := range m.Lines {
		vals := []string{l.PostalCode, l.City, strconv.Itoa(l.Letters), strconv.Itoa(l.Parcels)}
		for i, c := range cols {
			pdf.CellFormat(c.w, 6, vals[i], "", 0, c.align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.SetFont("go", "B", 10)
	pdf.CellFormat(cols[0].w+cols[1].w, 7, "Sum", "T", 0, "L", false, 0, "")
	pdf.CellFormat(cols[2].w, 7, strconv.Itoa(m.Letters), "T", 0, "R", false, 0, "")
	pdf.CellFormat(cols[3].w, 7, strconv.Itoa(m.Parcels), "T", 1, "R", false, 0, "")
	pdf.Ln(6)

	pdf.SetFont("go", "B", 12)
	pdf.CellFormat(0, 8, "Sendinger per postnummer", "", 1, "L", false, 0, "")
	const perRow, idW = 4, 43.5
	for _, l := range m.Lines {
		pdf.SetFont("go", "B", 10)
		pdf.CellFormat(0, 6.5, fmt.Sprintf("%s %s — %d brev, %d pakker", l.PostalCode, l.City, l.Letters, l.Parcels), "B", 1, "L", false, 0, "")
		pdf.SetFont("go", "", 9)
		ids := make([]string, 0, len(l.EnvelopeIDs)+len(l.ParcelIDs))
		for _, id := range l.EnvelopeIDs {
			ids = append(ids, string(id))
		}
		for _, id := range l.ParcelIDs {
			ids = append(ids, string(id)+" (pakke)")
		}
		for i, id := range ids {
			ln := 0
			if i%perRow == perRow-1 || i == len(ids)-1 {
				ln = 1
			}
			pdf.CellFormat(idW, 5, id, "", ln, "L", false, 0, "")
		}
		pdf.Ln(2)
	}
	pdf.Ln(10)
	pdf.SetFont("go", "", 10)
	pdf.CellFormat(85, 6, "Mottatt av Posten (signatur)", "T", 0, "L", false, 0, "")
	pdf.CellFormat(10, 6, "", "", 0, "L", false, 0, "")
	pdf.CellFormat(50, 6, "Dato og klokkeslett", "T", 1, "L", false, 0, "")
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write manifest %s PDF: %w", m.Batch, err)
	}
	return nil
}
