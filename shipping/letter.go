package shipping

import (
	"fmt"
	"io"

	"cardline/internal/pdf"
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

// WriteLetters renders one A5 page per letter (a letter too long for one goes on over the next),
// in the given (packing) order, with the labeler's return address and clock. Long names and
// company names wrap; nothing is cut. Pages go to w as they are done.
func (l *Labeler) WriteLetters(w io.Writer, letters []Letter) error {
	if len(letters) == 0 {
		return fmt.Errorf("write carrier letters: no letters")
	}
	fonts, err := labelFonts()
	if err != nil {
		return fmt.Errorf("write carrier letters: fonts: %w", err)
	}
	doc := pdf.NewWriter(w, mm, pdf.Info{Title: "HMS-kort: følgebrev", Creator: "cardline", Producer: "cardline",
		Created: l.now(), Lang: "nb-NO"})
	f := &flow{pageW: 148, pageH: 210, margin: 14, doc: doc, fonts: fonts}
	s := l.sender
	for _, lt := range letters {
		f.addPage()
		f.setFont(false, 8)
		f.multiCell(4, fmt.Sprintf("%s, %s, %s %s", s.Name, s.Street, s.PostalCode, s.City))
		f.ln(3)
		f.setFont(false, 10)
		to := []string{lt.To.Name}
		if lt.To.Attention != "" {
			to = append(to, "Att: "+lt.To.Attention)
		}
		to = append(to, lt.To.Street, lt.To.PostalCode+" "+lt.To.City)
		for _, line := range to {
			f.multiCell(5, line)
		}
		f.ln(6)
		f.setFont(true, 16)
		f.multiCell(8, letterTitle)
		f.ln(2)
		field := func(label, value string) {
			f.setFont(false, 9)
			f.cell(45, 6, label, "", alignLeft, false)
			f.setFont(true, 11)
			f.multiCell(6, value)
		}
		field("Kortholder / Card holder", lt.HolderName)
		field("Arbeidsgiver / Employer", lt.Company)
		field("Kortnummer / Card number", lt.CardNumber)
		field("Ordre / Order", lt.OrderID)
		field("Konvolutt / Envelope", string(lt.Envelope))
		field("Kort / Card", fmt.Sprintf("%d av %d / %d of %d", lt.Index, lt.Of, lt.Index, lt.Of))
		f.ln(4)
		for _, p := range []string{letterBodyNO, letterBodyEN} {
			f.setFont(false, 10)
			f.multiCell(5, p)
			f.ln(2)
		}
		f.ln(2)
		for _, p := range []string{letterWrongNO, letterWrongEN} {
			f.setFont(true, 10)
			f.multiCell(5, p)
			f.ln(2)
		}
	}
	if err := doc.Close(); err != nil {
		return fmt.Errorf("write carrier letters: %w", err)
	}
	if f.err != nil {
		return fmt.Errorf("write carrier letters: %w", f.err)
	}
	return nil
}
