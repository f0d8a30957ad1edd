package shipping

import (
	"fmt"
	"io"

	"github.com/go-pdf/fpdf"
)

// A Letter is the carrier letter that goes in an envelope with its card: who the card is for and
// from which employer, the card and envelope numbers, and what to do if something on the card is
// wrong, in Norwegian and English (many holders read neither well, but most read one of them).
// The holder is told to go to the orderer, who alone can order a new card.
type Letter struct {
	Envelope   EnvelopeID
	CardNumber string
	OrderID    string
	HolderName string
	Company    string
	To         Address
	Index, Of  int
}

// The carrier letter's text, Norwegian then English.
const (
	letterTitle   = "Ditt HMS-kort / Your HSE card"
	letterBodyNO  = "Her er HMS-kortet ditt. Kortet er personlig og tilhører arbeidsgiveren din. Det skal alltid bæres synlig på arbeidsplassen."
	letterBodyEN  = "Here is your HSE card. The card is personal and belongs to your employer. Always wear it visibly at work."
	letterWrongNO = "Er noe feil på kortet (navn, arbeidsgiver eller bilde)? Ikke bruk det. Kontakt den som bestilte kortet hos arbeidsgiveren din, og oppgi kortnummeret over: de bestiller et nytt kort."
	letterWrongEN = "Is anything on the card wrong (name, employer or photo)? Do not use it. Contact the person who ordered the card at your employer and give them the card number above: they will order a new card."
)

// WriteLetters renders one A5 page per letter, in the given (packing) order, with the labeler's
// return address and clock. Long names and company names wrap; nothing is cut.
func (l *Labeler) WriteLetters(w io.Writer, letters []Letter) error {
	if len(letters) == 0 {
		return fmt.Errorf("write carrier letters: no letters")
	}
	pdf := fpdf.New("P", "mm", "A5", "")
	pdf.SetMargins(14, 14, 14)
	pdf.SetAutoPageBreak(true, 14)
	pdf.SetTitle("HMS-kort: følgebrev", true)
	pdf.SetCreator("cardline", true)
	pdf.SetLang("nb-NO")
	pdf.SetCatalogSort(true)
	now := l.now()
	pdf.SetCreationDate(now)
	pdf.SetModificationDate(now)
	pdf.AddUTF8FontFromBytes("go", "", l.regular.ttf)
	pdf.AddUTF8FontFromBytes("go", "B", l.bold.ttf)
	s := l.sender
	for _, lt := range letters {
		pdf.AddPage()
		pdf.SetFont("go", "", 8)
		pdf.MultiCell(0, 4, fmt.Sprintf("%s, %s, %s %s", s.Name, s.Street, s.PostalCode, s.City), "", "L", false)
		pdf.Ln(3)
		pdf.SetFont("go", "", 10)
		to := []string{lt.To.Name}
		if lt.To.Attention != "" {
			to = append(to, "Att: "+lt.To.Attention)
		}
		to = append(to, lt.To.Street, lt.To.PostalCode+" "+lt.To.City)
		for _, line := range to {
			pdf.MultiCell(0, 5, line, "", "L", false)
		}
		pdf.Ln(6)
		pdf.SetFont("go", "B", 16)
		pdf.MultiCell(0, 8, letterTitle, "", "L", false)
		pdf.Ln(2)
		field := func(label, value string) {
			pdf.SetFont("go", "", 9)
			pdf.CellFormat(45, 6, label, "", 0, "L", false, 0, "")
			pdf.SetFont("go", "B", 11)
			pdf.MultiCell(0, 6, value, "", "L", false)
		}
		field("Kortholder / Card holder", lt.HolderName)
		field("Arbeidsgiver / Employer", lt.Company)
		field("Kortnummer / Card number", lt.CardNumber)
		field("Ordre / Order", lt.OrderID)
		field("Konvolutt / Envelope", string(lt.Envelope))
		field("Kort / Card", fmt.Sprintf("%d av %d / %d of %d", lt.Index, lt.Of, lt.Index, lt.Of))
		pdf.Ln(4)
		for _, p := range []string{letterBodyNO, letterBodyEN} {
			pdf.SetFont("go", "", 10)
			pdf.MultiCell(0, 5, p, "", "L", false)
			pdf.Ln(2)
		}
		pdf.Ln(2)
		for _, p := range []string{letterWrongNO, letterWrongEN} {
			pdf.SetFont("go", "B", 10)
			pdf.MultiCell(0, 5, p, "", "L", false)
			pdf.Ln(2)
		}
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write carrier letters: %w", err)
	}
	return nil
}
