package temporary

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"
	"golang.org/x/text/unicode/norm"

	"cardline/printer"
)

// The PDF is an A4 portrait page (it prints on any office printer and reads on a phone held
// upright) with, at the top, a card-sized panel (ID-1, 85.60 × 53.98 mm) with a dashed cut line,
// that can be cut out and carried like the plastic card; beside it the status QR code at 50 mm, big
// enough to scan from a phone's screen; below, every field again in large type, and the rule of
// validity in both languages.
//
// It is set in the Go fonts, the plastic card's fonts (printer.RegularTTF, printer.BoldTTF),
// embedded as subsets with full Unicode: every European name prints as sent.
//
// go-pdf/fpdf rather than jung-kurt/gofpdf: both are archived with the same API, but the fork is the
// one that got the last fixes and has SetLang, so screen readers read the page as Norwegian.

// Page geometry in millimetres.
const (
	pageMargin = 15.0
	pageWidth  = 210.0

	panelX, panelY = pageMargin, 70.0 // the panel's top, lower if the introduction runs long
	panelW, panelH = 85.60, 53.98
	panelRadius    = 3.18 // the ID-1 corner radius
	panelMargin    = 2.5
	bandH          = 8.5
	photoW, photoH = 22.0, 28.0 // the plastic card's photo box

	panelQR = 17.0 // the QR code inside the panel, with its quiet zone
	pageQR  = 50.0 // the QR code beside the panel
)

const ptToMM = 25.4 / 72

// fontFamily is the family name the fonts are registered under in each document.
const fontFamily = "go"

// WritePDF renders the temporary card c as a one-page PDF to w.
func WritePDF(w io.Writer, c *Card) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("render PDF: %w", err)
	}
	qr, err := printer.QRModules(c.StatusURL)
	if err != nil {
		return fmt.Errorf("render PDF of card %s: %w", c.CardNumber, err)
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCatalogSort(true) // the same card gives the same bytes
	// Uncompressed: fpdf makes a fresh zlib writer per stream, which cost 12 of 30 ms per page; the
	// photo stays JPEG and the font a subset, so a page is about 100 kB instead of 60 kB.
	pdf.SetCompression(false)
	pdf.SetCreationDate(c.Issued)
	pdf.SetModificationDate(c.Issued)
	pdf.SetLang("nb-NO")
	pdf.SetTitle("Midlertidig HMS-kort / Temporary HSE card "+c.CardNumber, true)
	pdf.SetSubject(c.FullName(), true)
	pdf.SetCreator("cardline", true)
	pdf.SetProducer("cardline", true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(pageMargin, pageMargin, pageMargin)
	pdf.AddUTF8FontFromBytes(fontFamily, "", printer.RegularTTF())
	pdf.AddUTF8FontFromBytes(fontFamily, "B", printer.BoldTTF())
	pdf.AddPage()

	p := &page{pdf: pdf, c: c}
	p.header()
	p.top = max(panelY, pdf.GetY()+8)
	if err := p.panel(qr); err != nil {
		return fmt.Errorf("render PDF of card %s: %w", c.CardNumber, err)
	}
	qrX := (panelX + panelW + pageWidth - pageMargin - pageQR) / 2 // centred right of the panel
	drawQR(pdf, qr, qrX, p.top+(panelH-pageQR)/2-2, pageQR)
	p.font("", 8.5)
	pdf.SetTextColor(0x12, 0x12, 0x12)
	pdf.SetXY(qrX-10, p.top+(panelH+pageQR)/2-2)
	pdf.CellFormat(pageQR+20, 4, "Skann for å sjekke status", "", 2, "C", false, 0, "")
	pdf.SetTextColor(0x5a, 0x5a, 0x5a)
	pdf.CellFormat(pageQR+20, 4, "Scan to check status", "", 0, "C", false, 0, "")
	p.details()
	if y := pdf.GetY(); y > 297-8 {
		return fmt.Errorf("render PDF of card %s: text runs off the page (%.0f mm)", c.CardNumber, y)
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("render PDF of card %s: %w", c.CardNumber, err)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write PDF of card %s: %w", c.CardNumber, err)
	}
	return nil
}

// RenderPDF returns the PDF of c as bytes.
func RenderPDF(c *Card) ([]byte, error) {
	var buf bytes.Buffer
	if err := WritePDF(&buf, c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type page struct {
	pdf *fpdf.Fpdf
	c   *Card
	top float64 // of the card panel
}

func (p *page) font(style string, pt float64) { p.pdf.SetFont(fontFamily, style, pt) }

// validity is the rule of validity as a sentence in each language.
func (p *page) validity() (nb, en string) {
	until := date(p.c.ValidUntil)
	return "Gjelder til det fysiske HMS-kortet er mottatt, og aldri etter " + until + ".",
		"Valid until the physical HSE card has been received, and never after " + until + "."
}

func (p *page) header() {
	pdf := p.pdf
	pdf.SetTextColor(0x12, 0x12, 0x12)
	p.font("B", 24)
	pdf.Text(pageMargin, 26, "Midlertidig HMS-kort")
	pdf.SetTextColor(0x5a, 0x5a, 0x5a)
	p.font("", 16)
	pdf.Text(pageMargin, 34, "Temporary HSE card")

	// The card type in its colour, top right, as a reader's first clue which card this stands for.
	nb, en := typeWords(p.c.CardType)
	r, g, b, dark := bandColour(p.c.CardType)
	pdf.SetFillColor(r, g, b)
	pdf.RoundedRect(pageWidth-pageMargin-52, 18, 52, 16, 2, "1234", "F")
	if dark {
		pdf.SetTextColor(0x12, 0x12, 0x12)
	} else {
		pdf.SetTextColor(0xff, 0xff, 0xff)
	}
	p.font("B", 12)
	pdf.SetXY(pageWidth-pageMargin-52, 20)
	pdf.CellFormat(52, 6, strings.ToUpper(nb), "", 2, "C", false, 0, "")
	p.font("", 10)
	pdf.CellFormat(52, 5, en, "", 0, "C", false, 0, "")

	nbRule, enRule := p.validity()
	pdf.SetTextColor(0x12, 0x12, 0x12)
	p.font("", 10)
	pdf.SetXY(pageMargin, 40)
	pdf.MultiCell(pageWidth-2*pageMargin, 4.6, "Dette er et midlertidig HMS-kort, utstedt "+
		date(p.c.Issued)+". "+nbRule+" Vis det sammen med legitimasjon med bilde.", "", "L", false)
	pdf.SetTextColor(0x5a, 0x5a, 0x5a)
	pdf.MultiCell(pageWidth-2*pageMargin, 4.6, "This is a temporary HSE card, issued "+
		date(p.c.Issued)+". "+enRule+" Show it together with photo identification.", "", "L", false)
}

// panel draws the cut-out card. Its content follows the plastic card's front: the colour band
// naming the type, the photo at the left, name, birth date and employer at the right, and the QR
// code in the corner.
func (p *page) panel(qr [][]bool) error {
	pdf, c := p.pdf, p.c
	x, y := panelX, p.top

	p.font("", 7)
	pdf.SetTextColor(0x5a, 0x5a, 0x5a)
	pdf.Text(x, y-1.5, "Klipp ut langs den stiplede linjen / Cut out along the dashed line")

	r, g, b, dark := bandColour(c.CardType)
	pdf.SetFillColor(r, g, b)
	pdf.RoundedRect(x, y, panelW, bandH, panelRadius, "12", "F")
	if dark {
		pdf.SetTextColor(0x12, 0x12, 0x12)
	} else {
		pdf.SetTextColor(0xff, 0xff, 0xff)
	}
	nb, en := typeWords(c.CardType)
	p.font("B", 8)
	pdf.Text(x+panelMargin, y+3.9, "MIDLERTIDIG HMS-KORT")
	p.font("", 6.5)
	pdf.Text(x+panelMargin, y+6.9, "Temporary HSE card")
	p.font("B", 8)
	pdf.Text(x+panelW-panelMargin-pdf.GetStringWidth(strings.ToUpper(nb)), y+3.9, strings.ToUpper(nb))
	p.font("", 6.5)
	pdf.Text(x+panelW-panelMargin-pdf.GetStringWidth(en), y+6.9, en)

	// The photo fills its box, cropped around its centre, never stretched. The stored JPEG goes in
	// as it is (no decoding, no re-encoding): intake re-encoded it already.
	px, py := x+panelMargin, y+bandH+2
	info := pdf.RegisterImageOptionsReader("photo", fpdf.ImageOptions{ImageType: "JPG"}, bytes.NewReader(c.PhotoJPEG))
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("embed photo: %w", err)
	}
	iw, ih := info.Width(), info.Height()
	scale := max(photoW/iw, photoH/ih)
	dw, dh := iw*scale, ih*scale
	pdf.ClipRect(px, py, photoW, photoH, false)
	pdf.ImageOptions("photo", px+(photoW-dw)/2, py+(photoH-dh)/2, dw, dh, false, fpdf.ImageOptions{}, 0, "")
	pdf.ClipEnd()

	qrX, qrY := x+panelW-panelMargin-panelQR+1.5, y+panelH-panelMargin-panelQR+1.5
	drawQR(pdf, qr, qrX, qrY, panelQR)

	// Right of the photo: who and for whom. Below it, across to the QR code: which card, how long.
	col := column{p: p, x: px + photoW + 3, y: py - 0.3, right: x + panelW - panelMargin}
	col.text(c.GivenName, "B", 10, 4.5)
	col.text(c.FamilyName, "B", 10, 4.5)
	col.gap(0.8)
	col.labelled("Født / Born ", date(c.BirthDate), 7)
	col.gap(1.2)
	col.text(c.OrgName, "B", 8, 4.5)
	col.labelled("Org.nr. ", orgNumber(c.OrgNumber), 7)
	if col.y > py+photoH+1 {
		return fmt.Errorf("card panel: names and employer overflow the photo's height (%.1f mm)", col.y-py)
	}
	low := column{p: p, x: px, y: py + photoH + 1.2, right: qrX - 1}
	low.labelled("Kortnr. / Card no. ", c.CardNumber, 8)
	low.gap(0.3)
	low.labelled("Gyldig til / Valid until", "", 5.5)
	low.text("Fysisk kort mottatt, senest "+date(c.ValidUntil), "B", 7, 4.5)
	if low.y > y+panelH-1 {
		return fmt.Errorf("card panel: text overflows the card (%.1f mm)", low.y-y)
	}

	// The cut line, last so it lies on top of the band's edge.
	pdf.SetDrawColor(0x5a, 0x5a, 0x5a)
	pdf.SetLineWidth(0.3)
	pdf.SetDashPattern([]float64{2, 1.2}, 0)
	pdf.RoundedRect(x, y, panelW, panelH, panelRadius, "1234", "D")
	pdf.SetDashPattern(nil, 0)
	return nil
}

// column lays out lines of text top down between x and right.
type column struct {
	p           *page
	x, y, right float64
}

func (l *column) gap(mm float64) { l.y += mm }

// text draws s on as few lines as it takes: at maxPt if it fits, shrunk down to minPt if that makes
// it fit on one line, wrapped at minPt otherwise. A name is never cut short.
func (l *column) text(s, style string, maxPt, minPt float64) {
	pdf := l.p.pdf
	s = norm.NFC.String(s)
	pt := maxPt
	for ; pt > minPt; pt -= 0.25 {
		l.p.font(style, pt)
		if pdf.GetStringWidth(s) <= l.right-l.x {
			break
		}
	}
	pt = max(pt, minPt)
	l.p.font(style, pt)
	h := pt * ptToMM * 1.15
	pdf.SetTextColor(0x12, 0x12, 0x12)
	for _, line := range wrap(pdf, s, l.right-l.x) {
		pdf.Text(l.x, l.y+pt*ptToMM*0.9, line)
		l.y += h
	}
}

// labelled draws a grey label followed by a dark value on one line.
func (l *column) labelled(label, value string, pt float64) {
	pdf := l.p.pdf
	l.p.font("", pt)
	pdf.SetTextColor(0x5a, 0x5a, 0x5a)
	base := l.y + pt*ptToMM*0.9
	pdf.Text(l.x, base, label)
	if value != "" {
		lw := pdf.GetStringWidth(label)
		l.p.font("B", pt)
		pdf.SetTextColor(0x12, 0x12, 0x12)
		pdf.Text(l.x+lw, base, value)
	}
	l.y += pt * ptToMM * 1.2
}

// wrap splits s into lines no wider than w at the current font, breaking at spaces and after
// hyphens (double-barrelled names) where it can, and inside a word only when a piece alone is
// wider than w.
func wrap(pdf *fpdf.Fpdf, s string, w float64) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		pieces := strings.SplitAfter(word, "-")
		for i, piece := range pieces {
			if piece == "" {
				continue
			}
			try := piece
			if line != "" {
				sep := " "
				if i > 0 {
					sep = "" // the rest of a hyphenated word
				}
				try = line + sep + piece
			}
			if pdf.GetStringWidth(try) <= w {
				line = try
				continue
			}
			if line != "" {
				lines = append(lines, line)
			}
			line = ""
			for _, r := range piece {
				if line != "" && pdf.GetStringWidth(line+string(r)) > w {
					lines = append(lines, line)
					line = ""
				}
				line += string(r)
			}
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}

// details lists every field again in large type, Norwegian and English labels, for a reader on a
// phone and for an inspector who types the card number.
func (p *page) details() {
	pdf, c := p.pdf, p.c
	nb, en := typeWords(c.CardType)
	rows := []struct{ nb, en, value string }{
		{"Navn", "Name", c.FullName()},
		{"Fødselsdato", "Date of birth", date(c.BirthDate)},
		{"Arbeidsgiver", "Employer", c.OrgName},
		{"Organisasjonsnummer", "Organisation number", orgNumber(c.OrgNumber)},
		{"Korttype", "Card type", nb + " / " + en},
		{"Kortnummer", "Card number", c.CardNumber},
		{"Bestillingsnummer", "Order number", c.OrderID},
		{"Utstedt", "Issued", date(c.Issued)},
		{"Gyldig til", "Valid until", "Fysisk kort mottatt, senest " + date(c.ValidUntil) + " / physical card received, at the latest " + date(c.ValidUntil)},
	}
	const labelW = 58.0
	valueW := pageWidth - 2*pageMargin - labelW
	y := p.top + panelH + 10
	pdf.SetDrawColor(0xc8, 0xc8, 0xc8)
	pdf.SetLineWidth(0.2)
	pdf.SetDashPattern(nil, 0)
	for i, r := range rows {
		if i > 0 {
			pdf.Line(pageMargin, y, pageWidth-pageMargin, y)
		}
		y += 1.5
		p.font("B", 10)
		pdf.SetTextColor(0x12, 0x12, 0x12)
		pdf.Text(pageMargin, y+3.6, r.nb)
		p.font("", 8.5)
		pdf.SetTextColor(0x5a, 0x5a, 0x5a)
		pdf.Text(pageMargin, y+7.3, r.en)
		// A value that needs more than one line is set smaller, so long names keep to one page.
		pt, lh := 12.0, 5.2
		p.font("B", pt)
		lines := wrap(pdf, norm.NFC.String(r.value), valueW)
		if len(lines) > 1 {
			pt, lh = 10.5, 4.5
			p.font("B", pt)
			lines = wrap(pdf, norm.NFC.String(r.value), valueW)
		}
		pdf.SetTextColor(0x12, 0x12, 0x12)
		for j, line := range lines {
			pdf.Text(pageMargin+labelW, y+4.2+float64(j)*lh, line)
		}
		y += max(8.5, 4.2+float64(len(lines)-1)*lh+1.5) + 0.5
	}

	y += 4
	pdf.SetXY(pageMargin, y)
	p.font("", 9)
	pdf.SetTextColor(0x12, 0x12, 0x12)
	nbRule, enRule := p.validity()
	nbNote, enNote := "Kortets utløpsdato er satt.", "The card's expiry date is set."
	if !c.ExpiryKnown {
		nbNote = "Det fysiske kortets utløpsdato settes når det produseres, og blir ikke tidligere enn denne datoen."
		enNote = "The physical card's expiry date is set when it is produced, and will not be earlier than this date."
	}
	pdf.MultiCell(pageWidth-2*pageMargin, 4.2, nbRule+" "+nbNote+" Kortet er personlig og tilhører arbeidsgiveren.", "", "L", false)
	pdf.SetTextColor(0x5a, 0x5a, 0x5a)
	pdf.MultiCell(pageWidth-2*pageMargin, 4.2, enRule+" "+enNote+" The card is personal and the employer's property.", "", "L", false)

	pdf.SetXY(pageMargin, pdf.GetY()+3)
	p.font("", 7)
	pdf.MultiCell(pageWidth-2*pageMargin, 3.2, "Status: "+c.StatusURL, "", "L", false)
	pdf.LinkString(pageMargin, pdf.GetY()-3.2, pageWidth-2*pageMargin, 3.2, c.StatusURL)
}

// drawQR draws the QR code as filled squares, size mm wide including a quiet zone of 4 modules,
// so it stays sharp at any zoom and prints at the printer's own resolution.
func drawQR(pdf *fpdf.Fpdf, mods [][]bool, x, y, size float64) {
	const quiet = 4
	m := size / float64(len(mods)+2*quiet)
	pdf.SetFillColor(0xff, 0xff, 0xff)
	pdf.Rect(x, y, size, size, "F")
	pdf.SetFillColor(0, 0, 0)
	for row, mr := range mods {
		for col := 0; col < len(mr); {
			if !mr[col] {
				col++
				continue
			}
			start := col
			for col < len(mr) && mr[col] {
				col++
			}
			// A hair of overlap between rows keeps anti-aliased viewers from showing seams.
			pdf.Rect(x+float64(quiet+start)*m, y+float64(quiet+row)*m, float64(col-start)*m, m+0.02, "F")
		}
	}
}
