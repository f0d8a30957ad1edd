package shipping

import (
	"errors"
	"fmt"
	"io"
	"strconv"

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

func (l *Labeler) writePDF(w io.Writer, labels []Label, sheet bool) error {
	layouts, err := l.layoutAll(labels)
	if err != nil {
		return err
	}
	size := fpdf.SizeType{Wd: labelW, Ht: labelH}
	if sheet {
		size = fpdf.SizeType{Wd: sheetW, Ht: sheetH}
	}
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: size})
	pdf.SetMargins(0, 0, 0)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetTitle("Shipping labels", true)
	pdf.SetCreator("cardline", true)
	pdf.SetLang("nb-NO")
	now := l.now()
	pdf.SetCatalogSort(true) // fonts in a fixed order: the same labels make the same bytes
	pdf.SetCreationDate(now)
	pdf.SetModificationDate(now)
	pdf.AddUTF8FontFromBytes("go", "", l.regular.ttf)
	pdf.AddUTF8FontFromBytes("go", "B", l.bold.ttf)
	for i, lo := range layouts {
		if !sheet {
			pdf.AddPage()
			drawLabel(pdf, lo)
			continue
		}
		cell := i % 4
		if cell == 0 {
			pdf.AddPage()
			pdf.SetDrawColor(160, 160, 160)
			pdf.SetLineWidth(0.2)
			pdf.SetDashPattern([]float64{2, 2}, 0)
			pdf.Line(cellW, 0, cellW, sheetH)
			pdf.Line(0, cellH, sheetW, cellH)
			pdf.SetDashPattern(nil, 0)
		}
		pdf.TransformBegin()
		pdf.TransformTranslate(float64(cell%2)*cellW+(cellW-labelW*sheetScale)/2, float64(cell/2)*cellH)
		pdf.TransformScale(100*sheetScale, 100*sheetScale, 0, 0)
		drawLabel(pdf, lo)
		pdf.TransformEnd()
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write label PDF: %w", err)
	}
	return nil
}

// drawLabel draws one laid-out label with its top-left corner at the origin.
func drawLabel(pdf *fpdf.Fpdf, lo *layout) {
	pdf.SetFillColor(0, 0, 0)
	pdf.SetDrawColor(0, 0, 0)
	for _, b := range lo.boxes {
		if b.Line > 0 {
			pdf.SetLineWidth(b.Line)
			pdf.Rect(b.X+b.Line/2, b.Y+b.Line/2, b.W-b.Line, b.H-b.Line, "D")
		} else {
			pdf.Rect(b.X, b.Y, b.W, b.H, "F")
		}
	}
	for _, r := range lo.runs {
		style := ""
		if r.Bold {
			style = "B"
		}
		pdf.SetFont("go", style, r.Size)
		x := r.X
		if r.W > 0 {
			x += (r.W - pdf.GetStringWidth(r.Text)) / 2
		}
		pdf.Text(x, r.Y+baseline(r.Size), r.Text)
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
		pdf.Rect(lo.codeX+float64(i)*lo.module, lo.codeY, float64(j-i)*lo.module, lo.codeH, "F")
		i = j
	}
}

// baseline is how far below a line's top its baseline lies, in mm: the Go fonts' ascent is
// about 0.93 em; a line is leading (1.2) em tall.
func baseline(size float64) float64 { return 0.95 * size * ptMM }

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
