package temporary

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/unicode/norm"

	"cardline/internal/pdf"
	"cardline/printer"
	"cardline/production"
)

// The PDF is an A4 portrait page (it prints on any office printer and reads on a phone held
// upright) with, at the top, a card-sized panel (ID-1, 85.60 × 53.98 mm) with a dashed cut line,
// that can be cut out and carried like the plastic card; beside it the status QR code at 50 mm, big
// enough to scan from a phone's screen; below, every field again in large type, and the rule of
// validity in both languages.
//
// It is set in the Go fonts, the plastic card's fonts (pdf.GoFonts),
// embedded as subsets with full Unicode: every European name prints as sent.
//
// It is written by our own internal/pdf rather than fpdf: fpdf parses and measures each font and
// compresses every stream again for every document, 13 ms of CPU per page; internal/pdf parses
// the fonts once per process (goFonts), so a page costs its layout and its bytes.

// Page geometry in millimetres.
const (
	pageMargin = 15.0
	pageWidth  = 210.0
	pageHeight = 297.0

	panelX, panelY = pageMargin, 70.0 // the panel's top, lower if the introduction runs long
	panelW, panelH = 85.60, 53.98
	panelRadius    = 3.18 // the ID-1 corner radius
	panelMargin    = 2.5
	bandH          = 8.5
	photoW, photoH = 22.0, 28.0 // the plastic card's photo box

	panelQR = 17.0 // the QR code inside the panel, with its quiet zone
	pageQR  = 50.0 // the QR code beside the panel
)

const (
	ptToMM = 25.4 / 72
	mm     = 72 / 25.4 // points per millimetre, the document's unit

	cellMargin = 1.0 // the inner margin of a cell, left and right, as fpdf had it
)

// The page's colours: ink for values, grey for labels and English, and the details' rules.
var (
	ink   = pdf.RGB{R: 0x12, G: 0x12, B: 0x12}
	grey  = pdf.RGB{R: 0x5a, G: 0x5a, B: 0x5a}
	rule  = pdf.RGB{R: 0xc8, G: 0xc8, B: 0xc8}
	black = pdf.RGB{}
	white = pdf.RGB{R: 0xff, G: 0xff, B: 0xff}
)

// faces are the two Go faces ready for embedding.
type faces struct{ regular, bold *pdf.Font }

// goFonts are the Go fonts parsed for embedding, shared by every document of the process
// (pdf.GoFonts).
func goFonts() (faces, error) {
	regular, bold, err := pdf.GoFonts()
	return faces{regular: regular, bold: bold}, err
}

// WritePDF renders the temporary card c as a one-page PDF to w.
func WritePDF(w io.Writer, c *Card) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("render PDF: %w", err)
	}
	qr, err := printer.QRModules(c.StatusURL)
	if err != nil {
		return fmt.Errorf("render PDF of card %s: %w", c.CardNumber, err)
	}
	fonts, err := goFonts()
	if err != nil {
		return fmt.Errorf("render PDF: fonts: %w", err)
	}
	photo, err := pdf.ParseJPEG(c.PhotoJPEG)
	if err != nil {
		return fmt.Errorf("render PDF of card %s: photo: %w", c.CardNumber, err)
	}
	doc := pdf.New(pageWidth, pageHeight, mm, pdf.Info{
		Title:    "Midlertidig HMS-kort / Temporary HSE card " + c.CardNumber,
		Subject:  c.FullName(),
		Creator:  "cardline",
		Producer: "cardline",
		Created:  c.Issued, // the same card gives the same bytes
		Lang:     "nb-NO",
	})

	p := &page{doc: doc, c: c, fonts: fonts}
	p.header()
	p.top = max(panelY, p.y+8)
	if err := p.panel(qr, photo); err != nil {
		return fmt.Errorf("render PDF of card %s: %w", c.CardNumber, err)
	}
	qrX := (panelX + panelW + pageWidth - pageMargin - pageQR) / 2 // centred right of the panel
	drawQR(doc, qr, qrX, p.top+(panelH-pageQR)/2-2, pageQR)
	p.font("", 8.5)
	doc.SetTextColor(ink)
	p.x, p.y = qrX-10, p.top+(panelH+pageQR)/2-2
	p.cell(pageQR+20, 4, "Skann for å sjekke status", true)
	doc.SetTextColor(grey)
	p.cell(pageQR+20, 4, "Scan to check status", true)
	p.details()
	if p.y > pageHeight-8 {
		return fmt.Errorf("render PDF of card %s: text runs off the page (%.0f mm)", c.CardNumber, p.y)
	}
	if err := doc.Write(w); err != nil {
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

// page is the layout of one temporary card: the document and a cursor for cells, as fpdf had it.
type page struct {
	doc    *pdf.Document
	c      *Card
	fonts  faces
	fontMM float64 // the current font size
	x, y   float64 // the cursor: where the next cell goes
	top    float64 // of the card panel
}

// font sets the face ("" regular, "B" bold) and size in points.
func (p *page) font(style string, pt float64) {
	f := p.fonts.regular
	if style == "B" {
		f = p.fonts.bold
	}
	p.doc.SetFont(f, pt)
	p.fontMM = pt * ptToMM
}

// cell sets s in a box w × h at the cursor, centred or (left) after the cell margin, vertically
// centred; the cursor moves below the box or else to its right.
func (p *page) cell(w, h float64, s string, centre bool) {
	dx := cellMargin
	if centre {
		dx = (w - p.doc.StringWidth(s)) / 2
	}
	p.doc.Text(p.x+dx, p.y+h/2+0.3*p.fontMM, s)
	if centre {
		p.y += h
	} else {
		p.x += w
	}
}

// paragraph sets s left-aligned in lines h apart, wrapped at spaces to w less the cell margins,
// from the cursor; the cursor ends below it at the left margin.
func (p *page) paragraph(w, h float64, s string) {
	for _, line := range wrap(p.doc.StringWidth, s, w-2*cellMargin, false) {
		p.doc.Text(p.x+cellMargin, p.y+h/2+0.3*p.fontMM, line)
		p.y += h
	}
	p.x = pageMargin
}

// validity is the rule of validity as a sentence in each language.
func (p *page) validity() (nb, en string) {
	until := date(p.c.ValidUntil)
	return "Gjelder til det fysiske HMS-kortet er mottatt, og aldri etter " + until + ".",
		"Valid until the physical HSE card has been received, and never after " + until + "."
}

func (p *page) header() {
	doc := p.doc
	doc.SetTextColor(ink)
	p.font("B", 24)
	doc.Text(pageMargin, 26, "Midlertidig HMS-kort")
	doc.SetTextColor(grey)
	p.font("", 16)
	doc.Text(pageMargin, 34, "Temporary HSE card")

	// The card type in its colour, top right, as a reader's first clue which card this stands for.
	nb, en := typeWords(p.c.CardType)
	band, text := typeColours(p.c.CardType)
	doc.SetFillColor(band)
	doc.RoundedRect(pageWidth-pageMargin-52, 18, 52, 16, 2, pdf.AllCorners, pdf.Fill)
	doc.SetTextColor(text)
	p.font("B", 12)
	p.x, p.y = pageWidth-pageMargin-52, 20
	p.cell(52, 6, strings.ToUpper(nb), true)
	p.font("", 10)
	p.cell(52, 5, en, true)

	nbRule, enRule := p.validity()
	doc.SetTextColor(ink)
	p.font("", 10)
	p.x, p.y = pageMargin, 40
	p.paragraph(pageWidth-2*pageMargin, 4.6, "Dette er et midlertidig HMS-kort, utstedt "+
		date(p.c.Issued)+". "+nbRule+" Vis det sammen med legitimasjon med bilde.")
	doc.SetTextColor(grey)
	p.paragraph(pageWidth-2*pageMargin, 4.6, "This is a temporary HSE card, issued "+
		date(p.c.Issued)+". "+enRule+" Show it together with photo identification.")
}

// typeColours are the card type's band colour and the colour of text on it.
func typeColours(t production.CardType) (band, text pdf.RGB) {
	r, g, b, dark := bandColour(t)
	band = pdf.RGB{R: uint8(r), G: uint8(g), B: uint8(b)}
	if dark {
		return band, ink
	}
	return band, white
}

// panel draws the cut-out card. Its content follows the plastic card's front: the colour band
// naming the type, the photo at the left, name, birth date and employer at the right, and the QR
// code in the corner.
func (p *page) panel(qr [][]bool, photo *pdf.Image) error {
	doc, c := p.doc, p.c
	x, y := panelX, p.top

	p.font("", 7)
	doc.SetTextColor(grey)
	doc.Text(x, y-1.5, "Klipp ut langs den stiplede linjen / Cut out along the dashed line")

	band, text := typeColours(c.CardType)
	doc.SetFillColor(band)
	doc.RoundedRect(x, y, panelW, bandH, panelRadius, pdf.TopLeft|pdf.TopRight, pdf.Fill)
	doc.SetTextColor(text)
	nb, en := typeWords(c.CardType)
	p.font("B", 8)
	doc.Text(x+panelMargin, y+3.9, "MIDLERTIDIG HMS-KORT")
	p.font("", 6.5)
	doc.Text(x+panelMargin, y+6.9, "Temporary HSE card")
	p.font("B", 8)
	doc.Text(x+panelW-panelMargin-doc.StringWidth(strings.ToUpper(nb)), y+3.9, strings.ToUpper(nb))
	p.font("", 6.5)
	doc.Text(x+panelW-panelMargin-doc.StringWidth(en), y+6.9, en)

	// The photo fills its box, cropped around its centre, never stretched. The stored JPEG goes in
	// as it is (no decoding, no re-encoding): intake re-encoded it already.
	px, py := x+panelMargin, y+bandH+2
	iw, ih := float64(photo.Width), float64(photo.Height)
	scale := max(photoW/iw, photoH/ih)
	dw, dh := iw*scale, ih*scale
	doc.Save()
	doc.ClipRect(px, py, photoW, photoH)
	doc.DrawImage(photo, px+(photoW-dw)/2, py+(photoH-dh)/2, dw, dh)
	doc.Restore()

	qrX, qrY := x+panelW-panelMargin-panelQR+1.5, y+panelH-panelMargin-panelQR+1.5
	drawQR(doc, qr, qrX, qrY, panelQR)

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
	doc.SetStrokeColor(grey)
	doc.SetLineWidth(0.3)
	doc.SetDash([]float64{2, 1.2}, 0)
	doc.RoundedRect(x, y, panelW, panelH, panelRadius, pdf.AllCorners, pdf.Stroke)
	doc.SetDash(nil, 0)
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
	doc := l.p.doc
	s = norm.NFC.String(s)
	pt := maxPt
	for ; pt > minPt; pt -= 0.25 {
		l.p.font(style, pt)
		if doc.StringWidth(s) <= l.right-l.x {
			break
		}
	}
	pt = max(pt, minPt)
	l.p.font(style, pt)
	h := pt * ptToMM * 1.15
	doc.SetTextColor(ink)
	for _, line := range wrap(doc.StringWidth, s, l.right-l.x, true) {
		doc.Text(l.x, l.y+pt*ptToMM*0.9, line)
		l.y += h
	}
}

// labelled draws a grey label followed by a dark value on one line.
func (l *column) labelled(label, value string, pt float64) {
	doc := l.p.doc
	l.p.font("", pt)
	doc.SetTextColor(grey)
	base := l.y + pt*ptToMM*0.9
	doc.Text(l.x, base, label)
	if value != "" {
		lw := doc.StringWidth(label)
		l.p.font("B", pt)
		doc.SetTextColor(ink)
		doc.Text(l.x+lw, base, value)
	}
	l.y += pt * ptToMM * 1.2
}

// wrap splits s into lines no wider than w as measured by width, breaking at spaces and, if
// hyphens, after hyphens (double-barrelled names) where it can, and inside a word only when a piece
// alone is wider than w.
//
// Widths add up (no kerning), so a line is measured piece by piece, not again for every piece.
func wrap(width func(string) float64, s string, w float64, hyphens bool) []string {
	var lines []string
	var line strings.Builder
	lineW, spaceW := 0.0, width(" ")
	for _, word := range strings.Fields(s) {
		pieces := []string{word}
		if hyphens {
			pieces = strings.SplitAfter(word, "-")
		}
		for i, piece := range pieces {
			if piece == "" {
				continue
			}
			pw := width(piece)
			sep, sepW := "", 0.0
			if line.Len() > 0 && i == 0 { // not within a hyphenated word
				sep, sepW = " ", spaceW
			}
			if lineW+sepW+pw <= w {
				line.WriteString(sep)
				line.WriteString(piece)
				lineW += sepW + pw
				continue
			}
			if line.Len() > 0 {
				lines = append(lines, line.String())
				line.Reset()
				lineW = 0
			}
			for _, r := range piece { // fits now, or is wider than a line and breaks anywhere
				rw := width(string(r))
				if line.Len() > 0 && lineW+rw > w {
					lines = append(lines, line.String())
					line.Reset()
					lineW = 0
				}
				line.WriteRune(r)
				lineW += rw
			}
		}
	}
	if line.Len() > 0 || len(lines) == 0 {
		lines = append(lines, line.String())
	}
	return lines
}

// details lists every field again in large type, Norwegian and English labels, for a reader on a
// phone and for an inspector who types the card number.
func (p *page) details() {
	doc, c := p.doc, p.c
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
	doc.SetStrokeColor(rule)
	doc.SetLineWidth(0.2)
	doc.SetDash(nil, 0)
	for i, r := range rows {
		if i > 0 {
			doc.Line(pageMargin, y, pageWidth-pageMargin, y)
		}
		y += 1.5
		p.font("B", 10)
		doc.SetTextColor(ink)
		doc.Text(pageMargin, y+3.6, r.nb)
		p.font("", 8.5)
		doc.SetTextColor(grey)
		doc.Text(pageMargin, y+7.3, r.en)
		// A value that needs more than one line is set smaller, so long names keep to one page.
		pt, lh := 12.0, 5.2
		p.font("B", pt)
		lines := wrap(doc.StringWidth, norm.NFC.String(r.value), valueW, true)
		if len(lines) > 1 {
			pt, lh = 10.5, 4.5
			p.font("B", pt)
			lines = wrap(doc.StringWidth, norm.NFC.String(r.value), valueW, true)
		}
		doc.SetTextColor(ink)
		for j, line := range lines {
			doc.Text(pageMargin+labelW, y+4.2+float64(j)*lh, line)
		}
		y += max(8.5, 4.2+float64(len(lines)-1)*lh+1.5) + 0.5
	}

	y += 4
	p.x, p.y = pageMargin, y
	p.font("", 9)
	doc.SetTextColor(ink)
	nbRule, enRule := p.validity()
	nbNote, enNote := "Kortets utløpsdato er satt.", "The card's expiry date is set."
	if !c.ExpiryKnown {
		nbNote = "Det fysiske kortets utløpsdato settes når det produseres, og blir ikke tidligere enn denne datoen."
		enNote = "The physical card's expiry date is set when it is produced, and will not be earlier than this date."
	}
	p.paragraph(pageWidth-2*pageMargin, 4.2, nbRule+" "+nbNote+" Kortet er personlig og tilhører arbeidsgiveren.")
	doc.SetTextColor(grey)
	p.paragraph(pageWidth-2*pageMargin, 4.2, enRule+" "+enNote+" The card is personal and the employer's property.")

	p.y += 3
	p.font("", 7)
	p.paragraph(pageWidth-2*pageMargin, 3.2, "Status: "+c.StatusURL)
	doc.Link(pageMargin, p.y-3.2, pageWidth-2*pageMargin, 3.2, c.StatusURL)
}

// drawQR draws the QR code as filled squares, size mm wide including a quiet zone of 4 modules,
// so it stays sharp at any zoom and prints at the printer's own resolution.
func drawQR(doc *pdf.Document, mods [][]bool, x, y, size float64) {
	const quiet = 4
	m := size / float64(len(mods)+2*quiet)
	doc.SetFillColor(white)
	doc.Rect(x, y, size, size, pdf.Fill)
	doc.SetFillColor(black)
	doc.FillBitmap(x+quiet*m, y+quiet*m, m, mods)
}
